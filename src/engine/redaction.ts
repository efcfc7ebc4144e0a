import { sql } from 'drizzle-orm'
import type { DbHandle } from '../db/client.js'
import { TERMINAL_STATUSES } from '../domain/lifecycle.js'

/** Actors the service itself writes events as: their reasons are generated text, never a person's words. */
const SERVICE_ACTORS = ['engine', 'retention', 'scheduler']
const REDACTED = '[redacted]'
const DAY = 86_400_000
const terminalList = sql.join(TERMINAL_STATUSES.map((s) => sql`${s}`), sql`, `)
const serviceActors = sql.join(SERVICE_ACTORS.map((a) => sql`${a}`), sql`, `)

/**
 * Removes the personal data of requests closed more than `retentionDays` ago, keeping the record of
 * what was asked, when, under which law, what each system did and when: the subject's and the
 * requester's identifiers, the callback address, rectified values (field names stay), notes, the
 * request fingerprint (a hash of the body, e-mail included), and every free-text reason people
 * wrote (cancellations, skips, the extension, a restriction's lift, transfer notes and receiver
 * replies, backup restore notes). Service-written reasons and all counts, codes and dates stay. A
 * request whose restriction is still in force keeps its identifiers until the restriction is lifted.
 * In batches, each in one transaction; counts only in system_events. Safe to run at any time and again.
 */
export async function redactClosedRequests (dbh: DbHandle, opts: { now: Date, retentionDays: number, batchSize?: number }): Promise<{ redacted: number }> {
  const cutoff = new Date(opts.now.getTime() - opts.retentionDays * DAY).toISOString()
  const batchSize = opts.batchSize ?? 500
  let redacted = 0
  for (;;) {
    const done = await dbh.transaction(async (tx) => {
      const ids = (await tx.rows<{ id: string }>(sql`
        select id from requests
        where identifiers_redacted_at is null and status in (${terminalList}) and updated_at < ${cutoff}
          -- A restriction still in force needs the person to be found again when it is lifted.
          and not (restriction_placed_at is not null and restriction_lifted_at is null)
        order by updated_at limit ${batchSize} for update skip locked`)).map((r) => r.id)
      if (ids.length === 0) return 0
      const idList = sql.join(ids.map((id) => sql`${id}::uuid`), sql`, `)
      await tx.rows(sql`
        update requests set
          subject = '{}'::jsonb,
          requester = jsonb_build_object('kind', requester->>'kind'),
          callback_url = null,
          changes = (select jsonb_agg(jsonb_build_object('field', c->>'field', 'value', null)) from jsonb_array_elements(changes) c),
          notes = null,
          request_hash = null,
          extension_reason = case when extension_reason is null then null else ${REDACTED} end,
          restriction_lift_reason = case when restriction_lift_reason is null then null else ${REDACTED} end,
          identifiers_redacted_at = ${opts.now.toISOString()}
        where id in (${idList})`)
      await tx.rows(sql`
        update request_events set
          reason = case when reason is null then null else ${REDACTED} end,
          details = case when details ? 'reason' then jsonb_set(details, '{reason}', to_jsonb(${REDACTED}::text)) else details end
        where request_id in (${idList}) and actor not in (${serviceActors}) and (reason is not null or details ? 'reason')`)
      await tx.rows(sql`
        update tasks set skip_reason = ${REDACTED}
        where request_id in (${idList}) and skip_reason is not null`)
      await tx.rows(sql`
        update transfers set notes = null, response_excerpt = null
        where request_id in (${idList}) and (notes is not null or response_excerpt is not null)`)
      await tx.rows(sql`
        insert into request_events (request_id, actor, action, details)
        select id, 'retention', 'identifiers_redacted', jsonb_build_object('retention_days', ${opts.retentionDays}::int)
        from unnest(array[${idList}]) as id`)
      return ids.length
    })
    redacted += done
    if (done < batchSize) break
  }
  // Restore notes are staff free text too; a restore's record (connector, backup date, counts) stays.
  const notes = await dbh.rows<{ id: string }>(sql`
    update backup_restores set note = null where note is not null and created_at < ${cutoff} returning id`)
  if (redacted > 0 || notes.length > 0) {
    await dbh.rows(sql`insert into system_events (actor, action, details)
      values ('retention', 'identifiers_redacted', ${JSON.stringify({ requests: redacted, restore_notes: notes.length, retention_days: opts.retentionDays })}::jsonb)`)
  }
  return { redacted }
}
