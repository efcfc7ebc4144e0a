CREATE TABLE "backup_restore_erasures" (
	"restore_id" uuid NOT NULL,
	"tombstone_id" uuid NOT NULL,
	"request_id" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "backup_restores" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"connector_id" text NOT NULL,
	"backup_taken_at" timestamp with time zone NOT NULL,
	"note" text,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"matched" integer DEFAULT 0 NOT NULL,
	"expired" integer DEFAULT 0 NOT NULL,
	"unreadable" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "backup_tombstones" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"request_id" uuid NOT NULL,
	"connector_id" text NOT NULL,
	"erased_at" timestamp with time zone NOT NULL,
	"last_erased_at" timestamp with time zone NOT NULL,
	"sealed_subject" text,
	"retention_days" integer,
	"kept_until" timestamp with time zone,
	"expired_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "backup_tombstones_expired_unsealed" CHECK ("backup_tombstones"."expired_at" is null or "backup_tombstones"."sealed_subject" is null)
);
--> statement-breakpoint
CREATE TABLE "erasure_receipts" (
	"id" uuid PRIMARY KEY NOT NULL,
	"request_id" uuid NOT NULL,
	"closed_at" timestamp with time zone NOT NULL,
	"jws" text NOT NULL,
	"payload_sha256" text NOT NULL,
	"kid" text NOT NULL,
	"issued_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "service_keys" (
	"purpose" text PRIMARY KEY NOT NULL,
	"material" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "backup_restore_erasures" ADD CONSTRAINT "backup_restore_erasures_restore_id_backup_restores_id_fk" FOREIGN KEY ("restore_id") REFERENCES "public"."backup_restores"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "backup_restore_erasures" ADD CONSTRAINT "backup_restore_erasures_tombstone_id_backup_tombstones_id_fk" FOREIGN KEY ("tombstone_id") REFERENCES "public"."backup_tombstones"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "backup_restore_erasures" ADD CONSTRAINT "backup_restore_erasures_request_id_requests_id_fk" FOREIGN KEY ("request_id") REFERENCES "public"."requests"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "backup_tombstones" ADD CONSTRAINT "backup_tombstones_request_id_requests_id_fk" FOREIGN KEY ("request_id") REFERENCES "public"."requests"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "erasure_receipts" ADD CONSTRAINT "erasure_receipts_request_id_requests_id_fk" FOREIGN KEY ("request_id") REFERENCES "public"."requests"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "backup_restore_erasures_pk" ON "backup_restore_erasures" USING btree ("restore_id","tombstone_id");--> statement-breakpoint
CREATE UNIQUE INDEX "backup_restore_erasures_request" ON "backup_restore_erasures" USING btree ("request_id");--> statement-breakpoint
CREATE UNIQUE INDEX "backup_restores_connector_taken" ON "backup_restores" USING btree ("connector_id","backup_taken_at");--> statement-breakpoint
CREATE UNIQUE INDEX "backup_tombstones_request_connector" ON "backup_tombstones" USING btree ("request_id","connector_id");--> statement-breakpoint
CREATE INDEX "backup_tombstones_connector" ON "backup_tombstones" USING btree ("connector_id","last_erased_at");--> statement-breakpoint
CREATE INDEX "backup_tombstones_pending" ON "backup_tombstones" USING btree ("created_at") WHERE "backup_tombstones"."kept_until" is null and "backup_tombstones"."expired_at" is null;--> statement-breakpoint
CREATE INDEX "backup_tombstones_live_until" ON "backup_tombstones" USING btree ("kept_until") WHERE "backup_tombstones"."expired_at" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "erasure_receipts_request_closed" ON "erasure_receipts" USING btree ("request_id","closed_at");