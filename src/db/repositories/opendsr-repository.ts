import { and, eq, sql } from 'drizzle-orm'
import type { DbHandle, TxHandle } from '../client.js'
import { opendsrCallbacks, opendsrRequests } from '../schema-opendsr.js'
import { requests } from '../schema.js'
import { OPENDSR_CALLBACK_QUEUE, WAKE_CHANNEL } from '../wake.js'
import { openDsrStatus, type Flavour, type OpenDsrStatus } from '../../domain/opendsr.js'
import type { RequestStatus } from '../../domain/lifecycle.js'

export type OpenDsrRequestRow = typeof opendsrRequests.$inferSelect

/** A callback taken for sending, with what its body and headers need (read at claim). */
export interface ClaimedOpenDsrCallback {
  id: string
  url: string
  requestStatus: OpenDsrStatus
  attempt: number
  controllerId: string
  subjectRequestId: string
  flavour: Flavour
  /** The request's deadline now (its effective due date): expected_completion_time. */
  expectedCompletion: Date
  /** Whether `url` is still one of the request's callback URLs (redaction empties them). */
  urlKept: boolean
  startedAt: Date
}

export interface OpenDsrCallbackRelease {
  status: 'pending' | 'delivered' | 'failed'
  responseStatus?: number | null
  errorCode?: string | null
  errorMessage?: string | null
  nextAttemptAt?: Date
}

export type LinkResult = { status: 'linked' | 'exists', row: OpenDsrRequestRow }

/**
 * OpenDSR requests and their callbacks' outbox (schema-opendsr.ts). A callback row is written in the
 * transaction that changes the request's status (queueStatusChange, called by the requests
 * repository's transition), or when the link is made to a request already past `pending`.
 */
export function createOpenDsrRepository (dbh: DbHandle) {
  return {
    /**
     * Links a controller's subject_request_id to the service's request, once: under the request's row
     * lock, so a status change either sees the link (and queues its callbacks) or happened before,
     * and then the link queues the status the request has now if it is past `pending`.
     */
    async link (input: { controllerId: string, subjectRequestId: string, requestId: string, flavour: Flavour, callbackUrls: string[], receivedAt: Date }): Promise<LinkResult> {
      return dbh.transaction(async (tx) => {
        const [request] = await tx.db.select({ status: requests.status }).from(requests).where(eq(requests.id, input.requestId)).for('no key update')
        const [row] = await tx.db.insert(opendsrRequests).values(input).onConflictDoNothing().returning()
        if (!row) {
          const [existing] = await tx.db.select().from(opendsrRequests)
            .where(and(eq(opendsrRequests.controllerId, input.controllerId), eq(opendsrRequests.subjectRequestId, input.subjectRequestId)))
          return { status: 'exists', row: existing! }
        }
        const now = request ? openDsrStatus(request.status) : 'pending'
        if (now !== 'pending') await queue(tx, sql`l.id = ${row.id}`, now, input.receivedAt)
        return { status: 'linked', row }
      })
    },

    async find (controllerId: string, subjectRequestId: string): Promise<OpenDsrRequestRow | null> {
      const [row] = await dbh.db.select().from(opendsrRequests)
        .where(and(eq(opendsrRequests.controllerId, controllerId), eq(opendsrRequests.subjectRequestId, subjectRequestId)))
      return row ?? null
    },

    /** How many OpenDSR requests (of any controller) the service's request answers. */
    async linkCount (requestId: string): Promise<number> {
      const [row] = await dbh.db.select({ n: sql<number>`count(*)::int` }).from(opendsrRequests).where(eq(opendsrRequests.requestId, requestId))
      return Number(row?.n ?? 0)
    },

    /**
     * In the transaction of a status change: a callback to every URL of every OpenDSR request of the
     * service's request, when the OpenDSR status changes with it. Nothing is sent (no statement) when it does not.
     */
    async queueStatusChange (requestId: string, from: RequestStatus, to: RequestStatus, at: Date, tx: TxHandle = dbh): Promise<void> {
      if (openDsrStatus(from) === openDsrStatus(to)) return
      await queue(tx, sql`l.request_id = ${requestId}`, openDsrStatus(to), at)
    },

    /** Takes up to `limit` due callbacks (pending and due, or sending under a lease that ran out) for `worker`. */
    async claimDue (worker: string, limit: number, leaseMs: number): Promise<{ claimed: ClaimedOpenDsrCallback[], nextDueAt: Date | null }> {
      const rows = await dbh.rows<Record<string, any>>(sql`
        with c as (
          update opendsr_callbacks d set
            status = 'sending', attempts = d.attempts + 1, lease_owner = ${worker},
            lease_expires_at = now() + ${`${leaseMs} milliseconds`}::interval
          where d.id in (
            select id from opendsr_callbacks
            where (status = 'pending' and next_attempt_at <= now()) or (status = 'sending' and lease_expires_at < now())
            order by next_attempt_at
            limit ${limit}
            for update skip locked
          )
          returning d.id, d.opendsr_request_id, d.url, d.request_status, d.attempts
        )
        select c.*, l.controller_id, l.subject_request_id, l.flavour, c.url = any(l.callback_urls) as url_kept,
          r.effective_due_at, now() as now
        from c join opendsr_requests l on l.id = c.opendsr_request_id join requests r on r.id = l.request_id`)
      const claimed = rows.map((r) => ({
        id: String(r.id),
        url: String(r.url),
        requestStatus: r.request_status as OpenDsrStatus,
        attempt: Number(r.attempts),
        controllerId: String(r.controller_id),
        subjectRequestId: String(r.subject_request_id),
        flavour: r.flavour as Flavour,
        expectedCompletion: new Date(r.effective_due_at as string | Date),
        urlKept: r.url_kept === true || r.url_kept === 't',
        startedAt: new Date(r.now as string | Date)
      }))
      if (claimed.length === limit) return { claimed, nextDueAt: null }
      const [next] = await dbh.db.select({ at: sql<Date>`min(${opendsrCallbacks.nextAttemptAt})` }).from(opendsrCallbacks)
        .where(eq(opendsrCallbacks.status, 'pending'))
      return { claimed, nextDueAt: next?.at ? new Date(next.at) : null }
    },

    /** Records where the callback stands, if `worker` still holds it; false when its lease was lost. */
    async release (id: string, worker: string, next: OpenDsrCallbackRelease): Promise<boolean> {
      const updated = await dbh.db.update(opendsrCallbacks).set({
        status: next.status,
        leaseOwner: null,
        leaseExpiresAt: null,
        responseStatus: next.responseStatus ?? null,
        lastErrorCode: next.errorCode ?? null,
        lastErrorMessage: next.errorMessage ?? null,
        ...(next.nextAttemptAt ? { nextAttemptAt: next.nextAttemptAt } : {}),
        ...(next.status === 'delivered' ? { deliveredAt: sql`now()` } : {})
      }).where(and(eq(opendsrCallbacks.id, id), eq(opendsrCallbacks.leaseOwner, worker), eq(opendsrCallbacks.status, 'sending')))
        .returning({ id: opendsrCallbacks.id })
      return updated.length > 0
    },

    /** The callbacks of an OpenDSR request, oldest first (for operators and tests). */
    async callbacksOf (opendsrRequestId: string) {
      return dbh.db.select().from(opendsrCallbacks).where(eq(opendsrCallbacks.opendsrRequestId, opendsrRequestId)).orderBy(opendsrCallbacks.createdAt)
    }
  }

  /** One callback per URL of the matching OpenDSR requests, woken on at commit. */
  async function queue (tx: TxHandle, which: ReturnType<typeof sql>, status: OpenDsrStatus, at: Date): Promise<void> {
    await tx.rows(sql`
      with d as (
        insert into opendsr_callbacks (opendsr_request_id, url, request_status, at)
        select l.id, u.url, ${status}, ${at.toISOString()}::timestamptz
        from opendsr_requests l cross join lateral unnest(l.callback_urls) as u(url)
        where ${which}
        returning id
      )
      select pg_notify(${WAKE_CHANNEL}, ${OPENDSR_CALLBACK_QUEUE}) from (select 1 from d limit 1) as any_callback`)
  }
}

export type OpenDsrRepository = ReturnType<typeof createOpenDsrRepository>
