import { and, asc, eq, inArray, sql } from 'drizzle-orm'
import { tenantCallbacks } from '../tenant-scope.js'
import type { DbHandle, TxHandle } from '../client.js'
import { callbackAttempts, callbackDeliveries } from '../schema-callbacks.js'
import { CALLBACK_QUEUE, WAKE_CHANNEL } from '../wake.js'
import type { RequestStatus } from '../../domain/lifecycle.js'

export type CallbackDeliveryRow = typeof callbackDeliveries.$inferSelect
export type CallbackAttemptRow = typeof callbackAttempts.$inferSelect

/** A delivery taken for sending, with what the sender needs of its request (read at claim, not when it was queued). */
export interface ClaimedCallback {
  id: string
  requestId: string
  /** The managed account a notice goes to (its callback_url), or null for the request's own. */
  account: string | null
  event: string
  toStatus: RequestStatus
  fromStatus: RequestStatus | null
  at: Date
  /** This attempt's number, redeliveries included. */
  attempt: number
  /** Attempts made in the current round, this one included. */
  roundAttempt: number
  /** The request's callback_url now: null once redaction removed it. */
  callbackUrl: string | null
  requestType: string
  /** A rejected request's legal ground and its provision (never the explanation): told with the rejection. */
  refusal: { ground: string, provision: string } | null
  startedAt: Date
}

/** A claimed delivery's row, as the claim statement returns it. */
interface ClaimRow {
  id: string
  request_id: string
  account_id: string | null
  event: string
  to_status: RequestStatus
  from_status: RequestStatus | null
  at: Date
  attempts: number
  round_start: number
  callback_url: string | null
  type: string
  refusal_ground: string | null
  refusal_provision: string | null
  now: Date
}

/** How a sender leaves a delivery it claimed. */
export interface CallbackRelease {
  status: 'delivered' | 'pending' | 'failed'
  /** Recorded on the attempt: delivered, retry, failed. */
  outcome: 'delivered' | 'retry' | 'failed'
  responseStatus?: number | null
  errorCode?: string | null
  errorMessage?: string | null
  nextAttemptAt?: Date
}

export type RedeliverResult =
  | { status: 'queued', row: CallbackDeliveryRow }
  | { status: 'not_found' }
  | { status: 'sending' }

/**
 * The status callbacks' outbox (schema-callbacks.ts). A row is written by the statement that changes
 * the request's status and woken on at commit; the engine's drain claims due rows under a lease, so
 * one delivery is sent by one worker at a time, and a delivered or failed one only when redelivered.
 */
export function createCallbacksRepository (dbh: DbHandle) {
  return {
    /**
     * Queues the callback of a status change, in the caller's transaction (the one that makes the
     * change), and wakes the callback workers when it commits. One statement.
     */
    async queueStatusChange (requestId: string, from: RequestStatus | null, to: RequestStatus, at: Date, tx: TxHandle = dbh): Promise<void> {
      await tx.rows(sql`
        with d as (
          insert into callback_deliveries (request_id, to_status, from_status, at)
          values (${requestId}, ${to}::request_status, ${from}::request_status, ${at.toISOString()}::timestamptz)
          returning id
        )
        select pg_notify(${WAKE_CHANNEL}, ${CALLBACK_QUEUE}) from d`)
    },

    /**
     * Queues the notice to a managed account's callback_url that a part of the request waits for its
     * administrator, in the routing's transaction (`status`: the request's, as the routing leaves it).
     */
    async queueAccountNotice (requestId: string, accountId: string, status: RequestStatus, at: Date, tx: TxHandle): Promise<void> {
      await tx.rows(sql`
        with d as (
          insert into callback_deliveries (request_id, account_id, event, to_status, at)
          values (${requestId}, ${accountId}, 'account.instruction_requested', ${status}::request_status, ${at.toISOString()}::timestamptz)
          returning id
        )
        select pg_notify(${WAKE_CHANNEL}, ${CALLBACK_QUEUE}) from d`)
    },

    /**
     * Takes up to `limit` due deliveries (pending and due, or sending under a lease that ran out: its
     * worker stopped) for `worker`, counting the attempt; with when the next not yet due one is.
     */
    async claimDue (worker: string, limit: number, leaseMs: number): Promise<{ claimed: ClaimedCallback[], nextDueAt: Date | null }> {
      const rows = await dbh.rows<ClaimRow>(sql`
        with c as (
          update callback_deliveries d set
            status = 'sending', attempts = d.attempts + 1, lease_owner = ${worker},
            lease_expires_at = now() + ${`${leaseMs} milliseconds`}::interval, updated_at = now()
          where d.id in (
            select id from callback_deliveries
            where (status = 'pending' and next_attempt_at <= now()) or (status = 'sending' and lease_expires_at < now())
            order by next_attempt_at
            limit ${limit}
            for update skip locked
          )
          returning d.id, d.request_id, d.account_id, d.event, d.to_status, d.from_status, d.at, d.attempts, d.round_start
        )
        select c.*, case when c.account_id is null then r.callback_url else (select a.callback_url from accounts a where a.id = c.account_id) end as callback_url, r.type, r.refusal->>'ground' as refusal_ground, r.refusal->>'provision' as refusal_provision, now() as now
        from c join requests r on r.id = c.request_id`)
      const claimed = rows.map((r) => ({
        id: r.id,
        requestId: r.request_id,
        account: r.account_id ?? null,
        event: r.event,
        toStatus: r.to_status,
        fromStatus: r.from_status,
        at: new Date(r.at),
        attempt: Number(r.attempts),
        roundAttempt: Number(r.attempts) - Number(r.round_start),
        callbackUrl: r.callback_url,
        requestType: r.type,
        refusal: r.refusal_ground && r.refusal_provision ? { ground: r.refusal_ground, provision: r.refusal_provision } : null,
        startedAt: new Date(r.now)
      }))
      if (claimed.length === limit) return { claimed, nextDueAt: null }
      const [next] = await dbh.db.select({ at: sql<Date>`min(${callbackDeliveries.nextAttemptAt})` }).from(callbackDeliveries)
        .where(eq(callbackDeliveries.status, 'pending'))
      return { claimed, nextDueAt: next?.at ? new Date(next.at) : null }
    },

    /** Records the attempt and where the delivery stands, if `worker` still holds it; false when its lease was lost. */
    async release (claimed: ClaimedCallback, worker: string, next: CallbackRelease): Promise<boolean> {
      return dbh.transaction(async (tx) => {
        const updated = await tx.db.update(callbackDeliveries).set({
          status: next.status,
          leaseOwner: null,
          leaseExpiresAt: null,
          responseStatus: next.responseStatus ?? null,
          lastErrorCode: next.errorCode ?? null,
          lastErrorMessage: next.errorMessage ?? null,
          ...(next.nextAttemptAt ? { nextAttemptAt: next.nextAttemptAt } : {}),
          ...(next.status === 'delivered' ? { deliveredAt: sql`now()` } : {}),
          updatedAt: sql`now()`
        }).where(and(
          eq(callbackDeliveries.id, claimed.id), eq(callbackDeliveries.leaseOwner, worker), eq(callbackDeliveries.status, 'sending')
        )).returning({ id: callbackDeliveries.id })
        if (updated.length === 0) return false
        await tx.db.insert(callbackAttempts).values({
          deliveryId: claimed.id,
          attempt: claimed.attempt,
          worker,
          startedAt: claimed.startedAt,
          outcome: next.outcome,
          responseStatus: next.responseStatus ?? null,
          errorCode: next.errorCode ?? null,
          errorMessage: next.errorMessage ?? null
        })
        return true
      })
    },

    /** A request's deliveries, oldest first, keyed on the insertion sequence (for a tenant key, none to another account's system). */
    async page (requestId: string, opts: { afterSeq?: number, limit: number }): Promise<CallbackDeliveryRow[]> {
      return dbh.db.select().from(callbackDeliveries)
        .where(and(eq(callbackDeliveries.requestId, requestId), opts.afterSeq !== undefined ? sql`${callbackDeliveries.seq} > ${opts.afterSeq}` : undefined,
          tenantCallbacks(callbackDeliveries.accountId)))
        .orderBy(asc(callbackDeliveries.seq)).limit(opts.limit)
    },

    async attemptsOf (deliveryIds: string[]): Promise<CallbackAttemptRow[]> {
      if (deliveryIds.length === 0) return []
      return dbh.db.select().from(callbackAttempts).where(inArray(callbackAttempts.deliveryId, deliveryIds)).orderBy(asc(callbackAttempts.id))
    },

    /**
     * Sends a delivery again, with the same id: due now, with a fresh round of attempts. Refused while
     * it is being sent; a pending one is only brought forward. Wakes the callback workers at commit.
     */
    async redeliver (requestId: string, deliveryId: string): Promise<RedeliverResult> {
      return dbh.transaction(async (tx) => {
        const [current] = await tx.db.select().from(callbackDeliveries)
          .where(and(eq(callbackDeliveries.id, deliveryId), eq(callbackDeliveries.requestId, requestId))).for('update')
        if (!current) return { status: 'not_found' }
        if (current.status === 'sending') return { status: 'sending' }
        const [row] = await tx.db.update(callbackDeliveries).set({
          status: 'pending', roundStart: current.attempts, nextAttemptAt: sql`now()`, updatedAt: sql`now()`
        }).where(eq(callbackDeliveries.id, deliveryId)).returning()
        await tx.rows(sql`select pg_notify(${WAKE_CHANNEL}, ${CALLBACK_QUEUE})`)
        return { status: 'queued', row: row! }
      })
    }
  }
}

export type CallbacksRepository = ReturnType<typeof createCallbacksRepository>
