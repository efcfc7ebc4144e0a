import { sql } from 'drizzle-orm'
import type { DbHandle, TxHandle } from '../client.js'
import { TERMINAL_STATUSES } from '../../domain/lifecycle.js'

/** Actors the service itself writes events as: their reasons are generated text, never a person's words. */
export const SERVICE_ACTORS = ['engine', 'retention', 'scheduler'] as const
/** What replaces a person's free text (the audit chain's verification accepts it in its place: db/repositories/audit-repository.ts). */
export const REDACTED = '[redacted]'
const terminalList = sql.join(TERMINAL_STATUSES.map((s) => sql`${s}`), sql`, `)
const serviceActors = sql.join(SERVICE_ACTORS.map((a) => sql`${a}`), sql`, `)

/**
 * The statements of request redaction (engine/redaction.ts): removing the personal data of closed
 * requests once their retention period is over, and the free text of backup restores.
 */
export function createRedactionRepository (dbh: DbHandle) {
  return {
    /**
     * Up to `limit` closed requests last updated before `cutoff` and not yet redacted, oldest first,
     * locked for the caller's transaction (others redacting at once skip them). A request whose
     * restriction is still in force is left out: the person must be found again when it is lifted.
     */
    async lockDue (cutoff: string, limit: number, tx: TxHandle = dbh): Promise<string[]> {
      return (await tx.rows<{ id: string }>(sql`
        select id from requests
        where identifiers_redacted_at is null and status in (${terminalList}) and updated_at < ${cutoff}
          -- A restriction still in force needs the person to be found again when it is lifted.
          and not (restriction_placed_at is not null and restriction_lifted_at is null)
        order by updated_at limit ${limit} for update skip locked`)).map((r) => r.id)
    },

    /**
     * Redacts the requests `ids` (locked by lockDue in the same transaction), in five statements,
     * one after the other: the request's identifiers, callback, rectified values, notes, fingerprint
     * and staff reasons (a refusal's explanation too); the reasons people wrote in its events; its
     * tasks' skip reasons, manual notes and refusal explanations; its
     * transfers' notes and receiver replies; then an `identifiers_redacted` event per request.
     */
    async redactRequests (ids: readonly string[], opts: { now: Date, retentionDays: number }, tx: TxHandle = dbh): Promise<void> {
      const idList = sql.join(ids.map((id) => sql`${id}::uuid`), sql`, `)
      await tx.rows(sql`
        update requests set
          subject = '{}'::jsonb,
          subject_keys = '{}'::text[],
          requester = jsonb_build_object('kind', requester->>'kind'),
          callback_url = null,
          changes = (select jsonb_agg(jsonb_build_object('field', c->>'field', 'value', null)) from jsonb_array_elements(changes) c),
          notes = null,
          request_hash = null,
          extension_reason = case when extension_reason is null then null else ${REDACTED} end,
          restriction_lift_reason = case when restriction_lift_reason is null then null else ${REDACTED} end,
          refusal = case when refusal is null then null else jsonb_set(refusal, '{explanation}', to_jsonb(${REDACTED}::text)) end,
          identifiers_redacted_at = ${opts.now.toISOString()}
        where id in (${idList})`)
      await tx.rows(sql`
        update request_events set
          reason = case when reason is null then null else ${REDACTED} end,
          details = case when details ? 'reason' then jsonb_set(details, '{reason}', to_jsonb(${REDACTED}::text)) else details end,
          -- The audit chain's salt of this text goes with it (db/repositories/audit-repository.ts).
          text_salt = null
        where request_id in (${idList}) and actor not in (${serviceActors}) and (reason is not null or details ? 'reason')`)
      await tx.rows(sql`
        update tasks set
          skip_reason = case when skip_reason is null then null else ${REDACTED} end,
          result = jsonb_set(jsonb_set(result, '{manual,note}', to_jsonb(${REDACTED}::text), false), '{refusal,explanation}', to_jsonb(${REDACTED}::text), false)
        where request_id in (${idList}) and (skip_reason is not null or result ? 'manual' or result ? 'refusal')`)
      // An OpenDSR request's callback URLs go with the request's own callback_url: nothing more is sent.
      await tx.rows(sql`update opendsr_requests set callback_urls = '{}'::text[] where request_id in (${idList}) and cardinality(callback_urls) > 0`)
      // What the identity check found (the people and identifiers behind the request's) goes with the subject.
      await tx.rows(sql`delete from request_identities where request_id in (${idList})`)
      await tx.rows(sql`
        update transfers set notes = null, response_excerpt = null
        where request_id in (${idList}) and (notes is not null or response_excerpt is not null)`)
      await tx.rows(sql`
        insert into request_events (request_id, actor, action, details)
        select id, 'retention', 'identifiers_redacted', jsonb_build_object('retention_days', ${opts.retentionDays}::int)
        from unnest(array[${idList}]) as id`)
    },

    /** Removes the staff notes of backup restores made before `cutoff`; returns the ids of those changed. */
    async clearRestoreNotes (cutoff: string, tx: TxHandle = dbh): Promise<string[]> {
      return (await tx.rows<{ id: string }>(sql`
    update backup_restores set note = null where note is not null and created_at < ${cutoff} returning id`)).map((r) => r.id)
    }
  }
}

export type RedactionRepository = ReturnType<typeof createRedactionRepository>
