import { randomBytes } from 'node:crypto'
import type { ConsoleRepository, QueueKey } from '../db/repositories/console-repository.js'
import type { RequestRow, RequestsRepository } from '../db/repositories/requests-repository.js'
import type { SystemEventsRepository } from '../db/repositories/system-events-repository.js'
import type { RequestStatus } from '../domain/lifecycle.js'
import { Errors } from '../errors.js'
import { hashKey, hasScope, type KeyRecord } from './api-keys.js'
import { toResource } from './request-resource.js'

export interface QueueQuery {
  status?: RequestStatus[]
  type?: string[]
  regime?: string[]
  connector?: string
  limit: number
  cursor?: string
}

/** The outcome of presenting an API key at the console's sign-in: a session, or why not. */
export type SignIn =
  | { status: 'signed_in', session: string, keyHash: string, record: KeyRecord }
  | { status: 'unknown_key' }
  | { status: 'no_console_scope', record: KeyRecord }

const DAY_MS = 86_400_000

export function encodeQueueCursor (k: QueueKey): string {
  return Buffer.from(`q1:${k.asOf.getTime()}:${k.overdue ? 1 : 0}:${k.child ? 1 : 0}:${k.dueAt.getTime()}:${k.seq}`).toString('base64url')
}

export function decodeQueueCursor (cursor: string): QueueKey {
  const m = /^q1:(\d{1,15}):([01]):([01]):(\d{1,15}):(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString())
  if (!m) throw new Errors.InvalidCursor()
  return { asOf: new Date(Number(m[1])), overdue: m[2] === '1', child: m[3] === '1', dueAt: new Date(Number(m[4])), seq: Number(m[5]) }
}

/** Whole days from `now` to `due`, rounded down: negative once it has passed. */
export function daysLeft (due: Date, now: Date): number {
  return Math.floor((due.getTime() - now.getTime()) / DAY_MS)
}

/**
 * The operator console's own work: sessions exchanged for API keys (signed in and out on the service's
 * audit trail), the queue in working order, and revealing a request's identifiers on record. Every other
 * console action calls the same services as the API.
 */
export function createConsoleService (deps: {
  repo: ConsoleRepository
  requests: Pick<RequestsRepository, 'findById' | 'recordEvent'>
  systemEvents: Pick<SystemEventsRepository, 'record'>
  apiKeys: ReadonlyMap<string, KeyRecord>
  /** How long a session can live at most (its cookie's expiry): how far back sign-outs matter. */
  sessionHours: number
  now?: () => Date
}) {
  const now = deps.now ?? (() => new Date())
  const lifetimeMs = deps.sessionHours * 3_600_000
  // A signed-out session is signed out for good: remembered here (with when) once known, for as long
  // as a session can live; older entries are dropped, so the set stays as small as the sign-outs of that window.
  const ended = new Map<string, number>()
  const remember = (session: string) => {
    const at = now().getTime()
    ended.set(session, at)
    for (const [sid, when] of ended) {
      if (when >= at - lifetimeMs) break
      ended.delete(sid)
    }
  }

  return {
    /** Exchanges an API key for a session when the key has the `console` scope (`admin` includes it). */
    async signIn (key: string): Promise<SignIn> {
      const keyHash = hashKey(key)
      const record = deps.apiKeys.get(keyHash)
      if (!record) return { status: 'unknown_key' }
      if (!hasScope(record, 'console')) return { status: 'no_console_scope', record }
      const session = randomBytes(18).toString('base64url')
      await deps.systemEvents.record({ actor: record.name, action: 'console_signed_in', details: { session } })
      return { status: 'signed_in', session, keyHash, record }
    },

    async signOut (session: string, actor: string): Promise<void> {
      remember(session)
      await deps.systemEvents.record({ actor, action: 'console_signed_out', details: { session } })
    },

    /** The key behind a live session, or null: signed out, or the key is no longer configured or lost `console`. */
    async principalOf (session: string, keyHash: string): Promise<KeyRecord | null> {
      const record = deps.apiKeys.get(keyHash)
      if (!record || !hasScope(record, 'console')) return null
      if (ended.has(session)) return null
      if (await deps.repo.signedOut(session, new Date(now().getTime() - lifetimeMs))) {
        remember(session)
        return null
      }
      return record
    },

    /** Open requests, overdue first, then children, then by effective deadline; a page at a time. */
    async queue (q: QueueQuery) {
      const after = q.cursor ? decodeQueueCursor(q.cursor) : undefined
      const asOf = after?.asOf ?? now()
      const rows = await deps.repo.queue({
        ...(q.status ? { status: q.status } : {}),
        ...(q.type ? { type: q.type } : {}),
        ...(q.regime ? { regime: q.regime } : {}),
        ...(q.connector ? { connector: q.connector } : {}),
        ...(after ? { after } : {}),
        asOf,
        limit: q.limit + 1
      })
      const page = rows.slice(0, q.limit)
      const last = page[page.length - 1]
      const at = now()
      return {
        data: page.map((r) => ({ request: toResource(r), overdue: r.effectiveDueAt < asOf, daysLeft: daysLeft(r.effectiveDueAt, at) })),
        next_cursor: rows.length > q.limit && last ? encodeQueueCursor(keyOf(last, asOf)) : null
      }
    },

    /** Each connector's health checks of the last `hours` (a chart's worth), and its latest retention sweep. */
    async connectorHistory (hours: number) {
      const since = new Date(now().getTime() - hours * 3_600_000)
      const [checks, sweeps] = await Promise.all([deps.repo.healthSince(since, 5000), deps.repo.lastSweeps()])
      const history = new Map<string, typeof checks>()
      for (const c of checks) history.set(c.connectorId, [...(history.get(c.connectorId) ?? []), c])
      return { since, until: now(), history, sweeps }
    },

    /** The request's subject identifiers, shown to `actor`, which the request's audit trail records. */
    async reveal (requestId: string, actor: string): Promise<RequestRow['subject']> {
      const row = await deps.requests.findById(requestId)
      if (!row) throw new Errors.RequestNotFound(requestId)
      await deps.requests.recordEvent(requestId, actor, 'identifiers_revealed', 'shown in the operator console', { via: 'console' })
      return row.subject
    }
  }
}

function keyOf (r: RequestRow, asOf: Date): QueueKey {
  return { asOf, overdue: r.effectiveDueAt < asOf, child: r.child, dueAt: r.effectiveDueAt, seq: r.seq }
}

export type ConsoleService = ReturnType<typeof createConsoleService>
