CREATE TABLE "request_identities" (
	"request_id" uuid PRIMARY KEY NOT NULL,
	"status" text NOT NULL,
	"subject" jsonb,
	"candidates" jsonb NOT NULL,
	"chosen_by" text,
	"chosen_at" timestamp with time zone,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "request_identities" ADD CONSTRAINT "request_identities_request_id_requests_id_fk" FOREIGN KEY ("request_id") REFERENCES "public"."requests"("id") ON DELETE cascade ON UPDATE no action;