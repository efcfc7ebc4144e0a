CREATE TABLE "open_subject_keys" (
	"request_id" uuid NOT NULL,
	"type" "request_type" NOT NULL,
	"key" text NOT NULL,
	"received_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
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
ALTER TABLE "open_subject_keys" ADD CONSTRAINT "open_subject_keys_request_id_requests_id_fk" FOREIGN KEY ("request_id") REFERENCES "public"."requests"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "verification_challenges" ADD CONSTRAINT "verification_challenges_request_id_requests_id_fk" FOREIGN KEY ("request_id") REFERENCES "public"."requests"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "open_subject_keys_lookup" ON "open_subject_keys" USING btree ("type","key","received_at","request_id");--> statement-breakpoint
CREATE INDEX "open_subject_keys_request" ON "open_subject_keys" USING btree ("request_id");--> statement-breakpoint
CREATE INDEX "verification_challenges_request" ON "verification_challenges" USING btree ("request_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "verification_challenges_token" ON "verification_challenges" USING btree ("token_hash");--> statement-breakpoint
CREATE UNIQUE INDEX "verification_challenges_open" ON "verification_challenges" USING btree ("request_id") WHERE "verification_challenges"."status" = 'open';--> statement-breakpoint
CREATE INDEX "archives_lease" ON "archives" USING btree ("lease_expires_at") WHERE "archives"."status" = 'building';--> statement-breakpoint
CREATE INDEX "requests_verifying_since" ON "requests" USING btree ("verifying_since") WHERE "requests"."verifying_since" is not null;--> statement-breakpoint
-- open_subject_keys follows the requests: a new open request's keys are added, and a request's keys
-- are removed when it closes (or its subject_keys are emptied, at redaction).
CREATE FUNCTION "open_subject_keys_on_insert"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status NOT IN ('completed', 'partially_completed', 'failed', 'rejected', 'cancelled') THEN
    INSERT INTO open_subject_keys (request_id, type, key, received_at)
    SELECT NEW.id, NEW.type, k, NEW.received_at FROM unnest(NEW.subject_keys) AS k;
  END IF;
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE FUNCTION "open_subject_keys_on_update"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status IN ('completed', 'partially_completed', 'failed', 'rejected', 'cancelled') OR cardinality(NEW.subject_keys) = 0 THEN
    DELETE FROM open_subject_keys WHERE request_id = NEW.id;
  ELSIF OLD.status IN ('completed', 'partially_completed', 'failed', 'rejected', 'cancelled') THEN
    -- Reopened (a failed task retried): open again.
    INSERT INTO open_subject_keys (request_id, type, key, received_at)
    SELECT NEW.id, NEW.type, k, NEW.received_at FROM unnest(NEW.subject_keys) AS k;
  END IF;
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE TRIGGER "requests_open_subject_keys_insert" AFTER INSERT ON "requests"
  FOR EACH ROW WHEN (cardinality(NEW.subject_keys) > 0) EXECUTE FUNCTION "open_subject_keys_on_insert"();--> statement-breakpoint
CREATE TRIGGER "requests_open_subject_keys_update" AFTER UPDATE OF status, subject_keys ON "requests"
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.subject_keys IS DISTINCT FROM NEW.subject_keys)
  EXECUTE FUNCTION "open_subject_keys_on_update"();
