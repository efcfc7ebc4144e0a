CREATE TYPE "public"."channel" AS ENUM('api', 'web_form', 'email', 'phone', 'post', 'in_person', 'chat', 'other');--> statement-breakpoint
CREATE TYPE "public"."regime" AS ENUM('gdpr', 'uk_gdpr', 'ccpa', 'lgpd', 'fadp', 'pipeda', 'pipl');--> statement-breakpoint
CREATE TYPE "public"."request_status" AS ENUM('received', 'verifying', 'ready', 'in_progress', 'on_hold', 'completed', 'partially_completed', 'failed', 'rejected', 'cancelled');--> statement-breakpoint
CREATE TYPE "public"."request_type" AS ENUM('access', 'portability', 'erasure', 'rectification', 'restriction', 'objection', 'consent_withdrawal', 'marketing_opt_out');--> statement-breakpoint
CREATE TABLE "api_keys" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"key_hash" text NOT NULL,
	"scopes" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "api_keys_name_unique" UNIQUE("name"),
	CONSTRAINT "api_keys_key_hash_unique" UNIQUE("key_hash")
);
--> statement-breakpoint
CREATE TABLE "request_events" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "request_events_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"request_id" uuid NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"actor" text NOT NULL,
	"action" text NOT NULL,
	"from_status" "request_status",
	"to_status" "request_status",
	"reason" text,
	"details" jsonb
);
--> statement-breakpoint
CREATE TABLE "requests" (
	"id" uuid PRIMARY KEY NOT NULL,
	"seq" bigint GENERATED ALWAYS AS IDENTITY (sequence name "requests_seq_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"type" "request_type" NOT NULL,
	"status" "request_status" NOT NULL,
	"held_from" "request_status",
	"regime" "regime" NOT NULL,
	"jurisdiction" text,
	"subject" jsonb NOT NULL,
	"requester" jsonb NOT NULL,
	"channel" "channel" NOT NULL,
	"callback_url" text,
	"changes" jsonb,
	"notes" text,
	"time_zone" text NOT NULL,
	"received_at" timestamp with time zone NOT NULL,
	"due_at" timestamp with time zone NOT NULL,
	"acknowledge_by" timestamp with time zone,
	"extended_due_at" timestamp with time zone,
	"deadline_rule" text NOT NULL,
	"created_by" text NOT NULL,
	"idempotency_key" text,
	"request_hash" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "requests_seq_unique" UNIQUE("seq")
);
--> statement-breakpoint
ALTER TABLE "request_events" ADD CONSTRAINT "request_events_request_id_requests_id_fk" FOREIGN KEY ("request_id") REFERENCES "public"."requests"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "request_events_request_id" ON "request_events" USING btree ("request_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "requests_idempotency_key" ON "requests" USING btree ("created_by","idempotency_key") WHERE "requests"."idempotency_key" is not null;--> statement-breakpoint
CREATE INDEX "requests_status_due_at" ON "requests" USING btree ("status","due_at");--> statement-breakpoint
CREATE INDEX "requests_due_at" ON "requests" USING btree ("due_at");--> statement-breakpoint
CREATE INDEX "requests_type_seq" ON "requests" USING btree ("type","seq");--> statement-breakpoint
CREATE INDEX "requests_regime_seq" ON "requests" USING btree ("regime","seq");