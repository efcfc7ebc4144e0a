CREATE TYPE "public"."task_action" AS ENUM('collect', 'erase', 'rectify', 'restrict', 'opt_out', 'retention');--> statement-breakpoint
CREATE TYPE "public"."task_status" AS ENUM('pending', 'running', 'retry_wait', 'waiting', 'succeeded', 'failed', 'skipped');--> statement-breakpoint
CREATE TABLE "collected_items" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "collected_items_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"request_id" uuid NOT NULL,
	"task_id" uuid NOT NULL,
	"connector_id" text NOT NULL,
	"stream" text NOT NULL,
	"item_key" text NOT NULL,
	"kind" text DEFAULT 'record' NOT NULL,
	"data" jsonb,
	"file" jsonb,
	"collected_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "task_runs" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "task_runs_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"task_id" uuid NOT NULL,
	"attempt" integer NOT NULL,
	"worker" text NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ended_at" timestamp with time zone,
	"outcome" text
);
--> statement-breakpoint
CREATE TABLE "tasks" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"request_id" uuid NOT NULL,
	"connector_id" text NOT NULL,
	"action" "task_action" NOT NULL,
	"status" "task_status" DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"max_attempts" integer NOT NULL,
	"next_attempt_at" timestamp with time zone,
	"lease_owner" text,
	"lease_expires_at" timestamp with time zone,
	"result" jsonb,
	"last_error_code" text,
	"last_error_message" text,
	"skip_reason" text,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "collected_items" ADD CONSTRAINT "collected_items_request_id_requests_id_fk" FOREIGN KEY ("request_id") REFERENCES "public"."requests"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "collected_items" ADD CONSTRAINT "collected_items_task_id_tasks_id_fk" FOREIGN KEY ("task_id") REFERENCES "public"."tasks"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "task_runs" ADD CONSTRAINT "task_runs_task_id_tasks_id_fk" FOREIGN KEY ("task_id") REFERENCES "public"."tasks"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tasks" ADD CONSTRAINT "tasks_request_id_requests_id_fk" FOREIGN KEY ("request_id") REFERENCES "public"."requests"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "collected_items_request" ON "collected_items" USING btree ("request_id","connector_id","stream","id");--> statement-breakpoint
CREATE INDEX "collected_items_task" ON "collected_items" USING btree ("task_id");--> statement-breakpoint
CREATE INDEX "task_runs_task_id" ON "task_runs" USING btree ("task_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "tasks_request_connector_action" ON "tasks" USING btree ("request_id","connector_id","action");--> statement-breakpoint
CREATE INDEX "tasks_status_lease" ON "tasks" USING btree ("status","lease_expires_at");