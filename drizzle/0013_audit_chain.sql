CREATE TABLE "audit_chain" (
	"position" bigint PRIMARY KEY NOT NULL,
	"source" text NOT NULL,
	"event_id" bigint NOT NULL,
	"request_id" uuid,
	"content_hash" text NOT NULL,
	"request_hash" text,
	"chain_hash" text NOT NULL,
	"sealed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "audit_chain_source" CHECK ("audit_chain"."source" in ('request', 'system')),
	CONSTRAINT "audit_chain_request_link" CHECK (("audit_chain"."source" = 'request') = ("audit_chain"."request_id" is not null and "audit_chain"."request_hash" is not null))
);
--> statement-breakpoint
CREATE TABLE "audit_heads" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "audit_heads_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"position" bigint NOT NULL,
	"chain_hash" text NOT NULL,
	"signed_at" timestamp with time zone NOT NULL,
	"kid" text NOT NULL,
	"jws" text NOT NULL
);
--> statement-breakpoint
ALTER TABLE "request_events" ADD COLUMN "content_hash" text;--> statement-breakpoint
ALTER TABLE "request_events" ADD COLUMN "text_hash" text;--> statement-breakpoint
ALTER TABLE "request_events" ADD COLUMN "text_salt" text;--> statement-breakpoint
ALTER TABLE "request_events" ADD COLUMN "chain_position" bigint;--> statement-breakpoint
ALTER TABLE "system_events" ADD COLUMN "content_hash" text;--> statement-breakpoint
ALTER TABLE "system_events" ADD COLUMN "chain_position" bigint;--> statement-breakpoint
CREATE UNIQUE INDEX "audit_chain_event" ON "audit_chain" USING btree ("source","event_id");--> statement-breakpoint
CREATE INDEX "audit_chain_request" ON "audit_chain" USING btree ("request_id","position") WHERE "audit_chain"."request_id" is not null;--> statement-breakpoint
CREATE INDEX "audit_heads_position" ON "audit_heads" USING btree ("position");--> statement-breakpoint
CREATE INDEX "request_events_unsealed" ON "request_events" USING btree ("id") WHERE "request_events"."chain_position" is null;--> statement-breakpoint
CREATE INDEX "system_events_unsealed" ON "system_events" USING btree ("id") WHERE "system_events"."chain_position" is null;--> statement-breakpoint
-- The audit chain's content hashes (src/audit/seal.ts computes them as it seals an event; verification
-- recomputes them). Computed here, in SQL, over what Postgres stored: an instant is hashed at the
-- microseconds it was stored with, whichever driver wrote or reads it. The canonical form is the text of a
-- jsonb object (jsonb orders its keys, shorter first then bytewise, and prints each value one way);
-- sha256() is built in (no pgcrypto). Not computed by an insert trigger: a row trigger on request_events,
-- even one doing nothing, cost intake a quarter of its throughput (bench/intake.ts, 0.74x to 0.54x).
CREATE FUNCTION "audit_instant"(at timestamptz) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;--> statement-breakpoint
-- The free text request redaction replaces (engine/redaction.ts): an event's reason and details.reason,
-- hashed on their own, with a random salt, so that the content hash covers their hash, which redaction
-- leaves in place. Redaction deletes the salt with the text: the hash left cannot be tested against guesses.
CREATE FUNCTION "audit_text_hash"(salt text, reason text, details jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN reason IS NULL AND details->'reason' IS NULL THEN NULL
    ELSE encode(sha256(convert_to(coalesce(salt, '') || jsonb_build_array(reason, details->'reason')::text, 'UTF8')), 'hex') END
$$;--> statement-breakpoint
CREATE FUNCTION "audit_request_event_hash"(id bigint, request_id uuid, at timestamptz, actor text, action text,
  from_status request_status, to_status request_status, details jsonb, text_hash text) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT encode(sha256(convert_to(jsonb_build_object(
    'v', 1, 'source', 'request', 'id', id, 'request_id', request_id, 'at', audit_instant(at), 'actor', actor, 'action', action,
    'from_status', from_status, 'to_status', to_status,
    'details', CASE WHEN jsonb_typeof(details) = 'object' THEN details - 'reason' ELSE details END,
    'text_hash', text_hash)::text, 'UTF8')), 'hex')
$$;--> statement-breakpoint
CREATE FUNCTION "audit_system_event_hash"(id bigint, at timestamptz, actor text, action text, details jsonb) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT encode(sha256(convert_to(jsonb_build_object(
    'v', 1, 'source', 'system', 'id', id, 'at', audit_instant(at), 'actor', actor, 'action', action, 'details', details)::text, 'UTF8')), 'hex')
$$;
