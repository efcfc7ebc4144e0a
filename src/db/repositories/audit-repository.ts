import { sql } from 'drizzle-orm'
import type { DbHandle, TxHandle } from '../client.js'
import { REDACTED, SERVICE_ACTORS } from './redaction-repository.js'

/** Serializes seal runs (only them: events are written without it). Any constant would do; this one is ours. */
const SEAL_LOCK = 4_711_013

export interface UnsealedEvent { source: 'request' | 'system', eventId: number, requestId: string | null, contentHash: string, textHash: string | null, textSalt: string | null }

export interface StoredLink {
  position: number
  source: 'request' | 'system'
  eventId: number
  requestId: string | null
  contentHash: string
  requestHash: string | null
  chainHash: string
  sealedAt: Date
}

/** A link as verification reads it: with what became of its event. */
export interface CheckedLink extends StoredLink {
  /** The event is still there. */
  present: boolean
  /** The event's content still hashes to the hash the link sealed (redaction's replacements allowed). */
  intact: boolean
  /** The previous link of the whole chain (per-request reads only). */
  previous?: { position: number, chainHash: string } | null
}

export interface SignedHeadRow { id: number, position: number, chainHash: string, signedAt: Date, kid: string, jws: string }

const serviceActors = sql.join(SERVICE_ACTORS.map((a) => sql`${a}`), sql`, `)

/**
 * Whether request event `e` still hashes as stored. Its free text may differ from what was hashed
 * when request redaction replaced it (engine/redaction.ts): a person-written event's reason (and
 * details.reason) that is now null or "[redacted]", its salt deleted with it, in a request that has
 * its `identifiers_redacted` event after it. The content hash covers the text's own salted hash,
 * which redaction leaves, so every other column is still checked as stored. Redaction rewrites the
 * event rather than recording a second version: the text is personal data that must go, and a chain
 * that had to keep it (or a hash of it open to guessing: hence the salt, deleted with the text)
 * would defeat the redaction.
 */
const requestEventIntact = (e: string) => sql.raw(`(${e}.content_hash = audit_request_event_hash(${e}.id, ${e}.request_id, ${e}.at, ${e}.actor, ${e}.action,
    ${e}.from_status, ${e}.to_status, ${e}.details, ${e}.text_hash)
  and (${e}.text_hash is not distinct from audit_text_hash(${e}.text_salt, ${e}.reason, ${e}.details)
    or (${e}.text_hash is not null and ${e}.text_salt is null and ${e}.actor not in (`).append(serviceActors).append(sql.raw(`)
      and (${e}.reason is null or ${e}.reason = '${REDACTED}')
      and (${e}.details->'reason' is null or ${e}.details->'reason' = to_jsonb('${REDACTED}'::text))
      and exists (select 1 from request_events r where r.request_id = ${e}.request_id and r.action = 'identifiers_redacted' and r.id > ${e}.id))))`))

const systemEventIntact = (e: string) =>
  sql.raw(`(${e}.content_hash = audit_system_event_hash(${e}.id, ${e}.at, ${e}.actor, ${e}.action, ${e}.details))`)

const LINK_COLUMNS = sql`c.position, c.source, c.event_id, c.request_id, c.content_hash, c.request_hash, c.chain_hash, c.sealed_at,
  case c.source when 'request' then re.id is not null else se.id is not null end as present,
  case c.source when 'request' then re.content_hash = c.content_hash and coalesce(${requestEventIntact('re')}, false)
    else se.content_hash = c.content_hash and coalesce(${systemEventIntact('se')}, false) end as intact`

const LINK_JOINS = sql`left join request_events re on c.source = 'request' and re.id = c.event_id
  left join system_events se on c.source = 'system' and se.id = c.event_id`

interface LinkRow {
  position: string,
  source: 'request' | 'system',
  event_id: string,
  request_id: string | null,
  content_hash: string,
  request_hash: string | null,
  chain_hash: string,
  sealed_at: Date,
  present: boolean,
  intact: boolean | null,
  previous_position?: string | null,
  previous_chain_hash?: string | null
}

function linkOf (r: LinkRow): CheckedLink {
  return {
    position: Number(r.position),
    source: r.source,
    eventId: Number(r.event_id),
    requestId: r.request_id,
    contentHash: r.content_hash,
    requestHash: r.request_hash,
    chainHash: r.chain_hash,
    sealedAt: r.sealed_at,
    present: r.present,
    intact: r.intact === true,
    ...(r.previous_position !== undefined
      ? { previous: r.previous_position === null ? null : { position: Number(r.previous_position), chainHash: r.previous_chain_hash! } }
      : {})
  }
}

/** The audit chain's storage (src/audit/): links, signed heads, and the events' seal marks. */
export function createAuditRepository (dbh: DbHandle) {
  return {
    /** Waits for any other seal run to end; held until the caller's transaction ends. */
    async lockSeal (tx: TxHandle): Promise<void> {
      await tx.rows(sql`select pg_advisory_xact_lock(${SEAL_LOCK})`)
    },

    /** The chain's last link, or null while it is empty. */
    async tip (tx: TxHandle = dbh): Promise<{ position: number, chainHash: string, sealedAt: Date } | null> {
      const [row] = await tx.rows<{ position: string, chain_hash: string, sealed_at: Date }>(sql`
        select position, chain_hash, sealed_at from audit_chain order by position desc limit 1`)
      return row ? { position: Number(row.position), chainHash: row.chain_hash, sealedAt: row.sealed_at } : null
    },

    /**
     * Up to `limit` committed events not yet sealed, request events first, each table in id order,
     * locked for the caller's transaction, with their content hashes computed now; rows another
     * transaction holds (a redaction under way) are skipped and taken by a later run.
     */
    async lockUnsealed (limit: number, tx: TxHandle): Promise<UnsealedEvent[]> {
      const req = await tx.rows<{ id: string, request_id: string, content_hash: string, text_hash: string | null, text_salt: string | null }>(sql`
        select id, request_id, h.text_salt, h.text_hash,
          audit_request_event_hash(id, request_id, at, actor, action, from_status, to_status, details, h.text_hash) as content_hash
        from request_events,
          lateral (select case when reason is null and details->'reason' is null then null else gen_random_uuid()::text end as text_salt) s,
          lateral (select s.text_salt, audit_text_hash(s.text_salt, reason, details) as text_hash) h
        where chain_position is null
        order by id limit ${limit} for update of request_events skip locked`)
      const left = limit - req.length
      const sys = left > 0
        ? await tx.rows<{ id: string, content_hash: string }>(sql`
          select id, audit_system_event_hash(id, at, actor, action, details) as content_hash from system_events where chain_position is null
          order by id limit ${left} for update skip locked`)
        : []
      return [
        ...req.map((r) => ({ source: 'request' as const, eventId: Number(r.id), requestId: r.request_id, contentHash: r.content_hash, textHash: r.text_hash, textSalt: r.text_salt })),
        ...sys.map((r) => ({ source: 'system' as const, eventId: Number(r.id), requestId: null, contentHash: r.content_hash, textHash: null, textSalt: null }))
      ]
    },

    /** The last request_hash of each of `requestIds` that has a link. */
    async requestTips (requestIds: readonly string[], tx: TxHandle): Promise<Map<string, string>> {
      if (requestIds.length === 0) return new Map()
      const rows = await tx.rows<{ request_id: string, request_hash: string }>(sql`
        select distinct on (request_id) request_id, request_hash from audit_chain
        where request_id = any(${`{${requestIds.join(',')}}`}::uuid[]) order by request_id, position desc`)
      return new Map(rows.map((r) => [r.request_id, r.request_hash]))
    },

    /** Appends `links` and marks their events sealed, with their hashes, in one statement. */
    async append (links: ReadonlyArray<Omit<StoredLink, 'sealedAt'> & { textHash: string | null, textSalt: string | null }>, tx: TxHandle): Promise<void> {
      const json = JSON.stringify(links.map((l) => ({
        position: l.position,
        source: l.source,
        event_id: l.eventId,
        request_id: l.requestId,
        content_hash: l.contentHash,
        request_hash: l.requestHash,
        chain_hash: l.chainHash,
        text_hash: l.textHash,
        text_salt: l.textSalt
      })))
      await tx.rows(sql`
        with l as (
          select * from jsonb_to_recordset(${json}::jsonb)
            as l(position bigint, source text, event_id bigint, request_id uuid, content_hash text, request_hash text, chain_hash text, text_hash text, text_salt text)
        ), ins as (
          insert into audit_chain (position, source, event_id, request_id, content_hash, request_hash, chain_hash)
          select position, source, event_id, request_id, content_hash, request_hash, chain_hash from l
        ), req as (
          update request_events e set chain_position = l.position, content_hash = l.content_hash, text_hash = l.text_hash, text_salt = l.text_salt
          from l where l.source = 'request' and e.id = l.event_id
        )
        update system_events e set chain_position = l.position, content_hash = l.content_hash from l where l.source = 'system' and e.id = l.event_id`)
    },

    /** Stores a signed head. */
    async insertHead (head: Omit<SignedHeadRow, 'id'>, tx: TxHandle = dbh): Promise<void> {
      await tx.rows(sql`insert into audit_heads (position, chain_hash, signed_at, kid, jws)
        values (${head.position}, ${head.chainHash}, ${head.signedAt.toISOString()}, ${head.kid}, ${head.jws})`)
    },

    /** The latest signed head, or null before the first. */
    async latestHead (tx: TxHandle = dbh): Promise<SignedHeadRow | null> {
      const [row] = await tx.rows<{ id: string, position: string, chain_hash: string, signed_at: Date, kid: string, jws: string }>(sql`
        select id, position, chain_hash, signed_at, kid, jws from audit_heads order by id desc limit 1`)
      return row ? { id: Number(row.id), position: Number(row.position), chainHash: row.chain_hash, signedAt: row.signed_at, kid: row.kid, jws: row.jws } : null
    },

    /** The earliest signed head whose hash is not the stored link's at its position (a link gone counts), or null. */
    async firstStaleHead (tx: TxHandle = dbh): Promise<{ position: number } | null> {
      const [row] = await tx.rows<{ position: string }>(sql`
        select h.position from audit_heads h left join audit_chain c on c.position = h.position
        where c.chain_hash is distinct from h.chain_hash order by h.position limit 1`)
      return row ? { position: Number(row.position) } : null
    },

    /** The stored link at `position`, or null. */
    async linkAt (position: number, tx: TxHandle = dbh): Promise<{ chainHash: string } | null> {
      const [row] = await tx.rows<{ chain_hash: string }>(sql`select chain_hash from audit_chain where position = ${position}`)
      return row ? { chainHash: row.chain_hash } : null
    },

    /** Up to `limit` links after `after`, in position order, each with what became of its event. */
    async linksAfter (after: number, limit: number, tx: TxHandle = dbh): Promise<CheckedLink[]> {
      const rows = await tx.rows<LinkRow>(sql`
        select ${LINK_COLUMNS} from audit_chain c ${LINK_JOINS}
        where c.position > ${after} order by c.position limit ${limit}`)
      return rows.map(linkOf)
    },

    /** The links of one request after `after`, in position order, each with its event's state and the chain's link before it. */
    async requestLinksAfter (requestId: string, after: number, limit: number, tx: TxHandle = dbh): Promise<CheckedLink[]> {
      const rows = await tx.rows<LinkRow>(sql`
        select ${LINK_COLUMNS}, p.position as previous_position, p.chain_hash as previous_chain_hash
        from audit_chain c ${LINK_JOINS}
        left join audit_chain p on p.position = c.position - 1
        where c.request_id = ${requestId}::uuid and c.position > ${after} order by c.position limit ${limit}`)
      return rows.map(linkOf)
    },

    /** How many events are not sealed yet (of one request, or all). */
    async countUnsealed (requestId?: string, tx: TxHandle = dbh): Promise<number> {
      if (requestId !== undefined) {
        const [row] = await tx.rows<{ n: number }>(sql`select count(*)::int as n from request_events where chain_position is null and request_id = ${requestId}::uuid`)
        return row!.n
      }
      const [row] = await tx.rows<{ n: number }>(sql`
        select (select count(*) from request_events where chain_position is null)::int + (select count(*) from system_events where chain_position is null)::int as n`)
      return row!.n
    },

    /** Whether request `id` exists. */
    async requestExists (id: string, tx: TxHandle = dbh): Promise<boolean> {
      return (await tx.rows(sql`select 1 from requests where id = ${id}::uuid`)).length > 0
    }
  }
}

export type AuditRepository = ReturnType<typeof createAuditRepository>
