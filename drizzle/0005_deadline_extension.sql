DROP INDEX "requests_status_due_at";--> statement-breakpoint
DROP INDEX "requests_due_at";--> statement-breakpoint
ALTER TABLE "requests" ADD COLUMN "extension_taken_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "requests" ADD COLUMN "extension_taken_by" text;--> statement-breakpoint
ALTER TABLE "requests" ADD COLUMN "extension_reason" text;--> statement-breakpoint
ALTER TABLE "requests" ADD COLUMN "extension_notified_subject_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "requests" ADD COLUMN "effective_due_at" timestamp with time zone GENERATED ALWAYS AS (case when extension_taken_at is not null then extended_due_at else due_at end) STORED NOT NULL;--> statement-breakpoint
CREATE INDEX "requests_status_effective_due_at" ON "requests" USING btree ("status","effective_due_at");--> statement-breakpoint
CREATE INDEX "requests_effective_due_at" ON "requests" USING btree ("effective_due_at");--> statement-breakpoint
ALTER TABLE "requests" ADD CONSTRAINT "requests_extension_complete" CHECK (("requests"."extension_taken_at" is null
    and "requests"."extension_taken_by" is null and "requests"."extension_reason" is null and "requests"."extension_notified_subject_at" is null)
    or ("requests"."extension_taken_at" is not null and "requests"."extended_due_at" is not null
    and "requests"."extension_taken_by" is not null and "requests"."extension_reason" is not null));