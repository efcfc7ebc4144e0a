ALTER TABLE "archives" ADD COLUMN "lease_owner" text;--> statement-breakpoint
ALTER TABLE "archives" ADD COLUMN "lease_expires_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "archives" ADD COLUMN "build_attempts" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "archives_lease" ON "archives" USING btree ("lease_expires_at") WHERE "archives"."status" = 'building';