ALTER TYPE "public"."request_status" ADD VALUE 'awaiting_approval' BEFORE 'in_progress';--> statement-breakpoint
ALTER TYPE "public"."task_status" ADD VALUE 'manual' BEFORE 'succeeded';--> statement-breakpoint
ALTER TABLE "requests" ADD COLUMN "refusal" jsonb;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "instructions" text;