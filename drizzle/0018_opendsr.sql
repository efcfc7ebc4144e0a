CREATE TABLE "opendsr_callbacks" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"opendsr_request_id" uuid NOT NULL,
	"url" text NOT NULL,
	"request_status" text NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"status" "callback_status" DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"lease_owner" text,
	"lease_expires_at" timestamp with time zone,
	"response_status" integer,
	"last_error_code" text,
	"last_error_message" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"delivered_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "opendsr_requests" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"controller_id" text NOT NULL,
	"subject_request_id" uuid NOT NULL,
	"request_id" uuid NOT NULL,
	"flavour" text NOT NULL,
	"callback_urls" text[] NOT NULL,
	"received_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "opendsr_callbacks" ADD CONSTRAINT "opendsr_callbacks_opendsr_request_id_opendsr_requests_id_fk" FOREIGN KEY ("opendsr_request_id") REFERENCES "public"."opendsr_requests"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "opendsr_requests" ADD CONSTRAINT "opendsr_requests_request_id_requests_id_fk" FOREIGN KEY ("request_id") REFERENCES "public"."requests"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "opendsr_callbacks_request" ON "opendsr_callbacks" USING btree ("opendsr_request_id");--> statement-breakpoint
CREATE INDEX "opendsr_callbacks_due" ON "opendsr_callbacks" USING btree ("status","next_attempt_at") WHERE "opendsr_callbacks"."status" in ('pending', 'sending');--> statement-breakpoint
CREATE UNIQUE INDEX "opendsr_requests_controller_subject_request" ON "opendsr_requests" USING btree ("controller_id","subject_request_id");--> statement-breakpoint
CREATE INDEX "opendsr_requests_request" ON "opendsr_requests" USING btree ("request_id");