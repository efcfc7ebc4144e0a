CREATE TABLE "transfer_attempts" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "transfer_attempts_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"transfer_id" uuid NOT NULL,
	"attempt" integer NOT NULL,
	"worker" text NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ended_at" timestamp with time zone,
	"outcome" text,
	"response_status" integer,
	"response_excerpt" text,
	"error_code" text,
	"bytes_sent" bigint
);
--> statement-breakpoint
ALTER TABLE "transfers" ADD COLUMN "last_error_message" text;--> statement-breakpoint
ALTER TABLE "transfers" ADD COLUMN "notes" text;--> statement-breakpoint
ALTER TABLE "transfers" ADD COLUMN "lease_owner" text;--> statement-breakpoint
ALTER TABLE "transfers" ADD COLUMN "lease_expires_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "transfers" ADD COLUMN "finished_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "transfer_attempts" ADD CONSTRAINT "transfer_attempts_transfer_id_transfers_id_fk" FOREIGN KEY ("transfer_id") REFERENCES "public"."transfers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "transfer_attempts_transfer" ON "transfer_attempts" USING btree ("transfer_id","id");--> statement-breakpoint
CREATE INDEX "transfers_status_lease" ON "transfers" USING btree ("status","lease_expires_at");