ALTER TABLE "requests" ADD COLUMN "opt_out_purposes" text[] DEFAULT '{}'::text[] NOT NULL;--> statement-breakpoint
UPDATE "requests" SET "opt_out_purposes" = CASE "type" WHEN 'consent_withdrawal' THEN '{marketing,partner_sharing,profiling}'::text[] ELSE '{marketing}'::text[] END WHERE "type" IN ('marketing_opt_out', 'consent_withdrawal', 'objection');
