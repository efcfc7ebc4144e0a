CREATE TABLE "verification_challenges" (
	"id" uuid PRIMARY KEY NOT NULL,
	"request_id" uuid NOT NULL,
	"channel" text NOT NULL,
	"code_hash" text NOT NULL,
	"token_hash" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"max_attempts" integer NOT NULL,
	"status" text DEFAULT 'open' NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"closed_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "archives" ADD COLUMN "lease_owner" text;--> statement-breakpoint
ALTER TABLE "archives" ADD COLUMN "lease_expires_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "archives" ADD COLUMN "build_attempts" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "requests" ADD COLUMN "subject_keys" text[] DEFAULT '{}'::text[] NOT NULL;--> statement-breakpoint
ALTER TABLE "requests" ADD COLUMN "duplicate_of" uuid;--> statement-breakpoint
ALTER TABLE "requests" ADD COLUMN "child" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "requests" ADD COLUMN "internal_due_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "requests" ADD COLUMN "verifying_since" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "requests" ADD COLUMN "clock_paused_since" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "requests" ADD COLUMN "clock_paused_days" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "verification_challenges" ADD CONSTRAINT "verification_challenges_request_id_requests_id_fk" FOREIGN KEY ("request_id") REFERENCES "public"."requests"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "verification_challenges_request" ON "verification_challenges" USING btree ("request_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "verification_challenges_token" ON "verification_challenges" USING btree ("token_hash");--> statement-breakpoint
CREATE UNIQUE INDEX "verification_challenges_open" ON "verification_challenges" USING btree ("request_id") WHERE "verification_challenges"."status" = 'open';--> statement-breakpoint
CREATE INDEX "archives_lease" ON "archives" USING btree ("lease_expires_at") WHERE "archives"."status" = 'building';--> statement-breakpoint
CREATE INDEX "requests_open_subject_keys" ON "requests" USING gin ("subject_keys") WHERE "requests"."status" not in ('completed', 'partially_completed', 'failed', 'rejected', 'cancelled');--> statement-breakpoint
CREATE INDEX "requests_verifying_since" ON "requests" USING btree ("verifying_since") WHERE "requests"."verifying_since" is not null;