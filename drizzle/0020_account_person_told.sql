ALTER TABLE "request_accounts" ADD COLUMN "person_told_at" timestamp with time zone;--> statement-breakpoint
-- Until now notified_at was set once the administrators and the person had both been told.
UPDATE "request_accounts" SET "person_told_at" = "notified_at" WHERE "notified_at" IS NOT NULL;
