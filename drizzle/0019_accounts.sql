ALTER TYPE "public"."request_status" ADD VALUE 'awaiting_controller' BEFORE 'in_progress';--> statement-breakpoint
CREATE TABLE "accounts" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"managed" boolean DEFAULT false NOT NULL,
	"admins" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"assistance_days" integer,
	"callback_url" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "accounts_id_format" CHECK ("accounts"."id" ~ '^[a-z0-9][a-z0-9_-]{0,62}$')
);
--> statement-breakpoint
CREATE TABLE "request_accounts" (
	"request_id" uuid NOT NULL,
	"account_id" text NOT NULL,
	"state" text DEFAULT 'awaiting' NOT NULL,
	"connectors" text[] NOT NULL,
	"due_at" timestamp with time zone NOT NULL,
	"notified_at" timestamp with time zone,
	"reference" text,
	"decided_by" text,
	"decided_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "request_accounts_request_id_account_id_pk" PRIMARY KEY("request_id","account_id"),
	CONSTRAINT "request_accounts_state" CHECK ("request_accounts"."state" in ('awaiting', 'instructed', 'declined'))
);
--> statement-breakpoint
DROP INDEX "tasks_request_connector_action";--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "account_id" text;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "account_id" text;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "excluded_accounts" text[];--> statement-breakpoint
ALTER TABLE "callback_deliveries" ADD COLUMN "account_id" text;--> statement-breakpoint
ALTER TABLE "request_accounts" ADD CONSTRAINT "request_accounts_request_id_requests_id_fk" FOREIGN KEY ("request_id") REFERENCES "public"."requests"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "request_accounts" ADD CONSTRAINT "request_accounts_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "request_accounts_account" ON "request_accounts" USING btree ("account_id","request_id");--> statement-breakpoint
CREATE UNIQUE INDEX "tasks_request_connector_action" ON "tasks" USING btree ("request_id","connector_id","action",coalesce("account_id", ''));