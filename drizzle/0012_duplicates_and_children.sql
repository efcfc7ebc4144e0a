ALTER TABLE "requests" ADD COLUMN "subject_keys" text[] DEFAULT '{}'::text[] NOT NULL;--> statement-breakpoint
ALTER TABLE "requests" ADD COLUMN "duplicate_of" uuid;--> statement-breakpoint
ALTER TABLE "requests" ADD COLUMN "child" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "requests" ADD COLUMN "internal_due_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "requests_open_subject_keys" ON "requests" USING gin ("subject_keys") WHERE "requests"."status" not in ('completed', 'partially_completed', 'failed', 'rejected', 'cancelled');