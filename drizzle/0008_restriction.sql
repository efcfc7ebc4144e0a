ALTER TYPE "public"."task_action" ADD VALUE 'unrestrict';--> statement-breakpoint
ALTER TABLE "requests" ADD COLUMN "restriction_placed_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "requests" ADD COLUMN "restriction_lifted_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "requests" ADD COLUMN "restriction_lifted_by" text;--> statement-breakpoint
ALTER TABLE "requests" ADD COLUMN "restriction_lift_reason" text;--> statement-breakpoint
ALTER TABLE "requests" ADD COLUMN "restriction_notified_subject_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "requests" ADD CONSTRAINT "requests_restriction_lift_complete" CHECK (("requests"."restriction_lifted_at" is null
    and "requests"."restriction_lifted_by" is null and "requests"."restriction_lift_reason" is null and "requests"."restriction_notified_subject_at" is null)
    or ("requests"."restriction_lifted_at" is not null and "requests"."restriction_placed_at" is not null and "requests"."restriction_lifted_by" is not null
    and "requests"."restriction_lift_reason" is not null and "requests"."restriction_notified_subject_at" is not null));