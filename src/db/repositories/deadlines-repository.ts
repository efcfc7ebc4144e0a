import { sql } from 'drizzle-orm'
import type { DbHandle, TxHandle } from '../client.js'
import { OPEN_STATUSES } from '../../domain/lifecycle.js'
import { tenantAccount, tenantRequests } from '../tenant-scope.js'

/** An open request as the deadline scan returns it: ids and classification only, no subject identifiers. */
export interface DeadlineRow { id: string, type: string, regime: string, status: string, due: Date | string, child: boolean, internal_due: Date | string | null, verifying_since: Date | string | null }

/** A part of an open request waiting for a managed account's administrator, as the deadline scan returns it. */
export interface AccountPartDueRow { request_id: string, type: string, account_id: string, due_at: Date | string }

const openList = sql.join(OPEN_STATUSES.map((s) => sql`${s}`), sql`, `)

/**
 * Deadlines: the scan of open requests by `effective_due_at`, and the warnings sent about them
 * (deadline_notifications, one row per request and kind, claimed before delivery).
 */
export function createDeadlinesRepository (dbh: DbHandle) {
  return {
    /**
     * Open requests whose effective deadline, or (a child's) internal due date, is at or before
     * `until`: children first, each group earliest first (a child's by its internal date). A request
     * whose clock is paused (waiting on the person under UK GDPR Art 12A) is not due: its deadline
     * moves when the clock resumes. For a tenant key, its account's requests only (db/tenant-scope.ts).
     */
    async dueBy (until: Date, limit: number, tx: TxHandle = dbh): Promise<DeadlineRow[]> {
      return tx.rows<DeadlineRow>(sql`
    select id, type, regime, status, effective_due_at as due, child, internal_due_at as internal_due, verifying_since from requests
    where status in (${openList}) and clock_paused_since is null and ${tenantRequests(sql`requests.id`) ?? sql`true`}
      and (effective_due_at <= ${until.toISOString()} or (child and internal_due_at <= ${until.toISOString()}))
    order by child desc, coalesce(internal_due_at, effective_due_at), id limit ${limit}`)
    },

    /** Account parts waiting for their administrator, due at or before `until`, earliest first (for a tenant key, its account's). */
    async accountPartsDueBy (until: Date, limit: number, tx: TxHandle = dbh): Promise<AccountPartDueRow[]> {
      const account = tenantAccount()
      return tx.rows<AccountPartDueRow>(sql`
    select ra.request_id, r.type, ra.account_id, ra.due_at from request_accounts ra join requests r on r.id = ra.request_id
    where ra.state = 'awaiting' and ra.due_at <= ${until.toISOString()} and r.status in (${openList})
      and ${account === undefined ? sql`true` : sql`ra.account_id = ${account}`}
    order by ra.due_at, ra.request_id, ra.account_id limit ${limit}`)
    },

    /**
     * Claims the (request, kind) warning for delivery; true when this caller holds the claim. A row
     * already delivered is never claimed again; one claimed but undelivered is taken over once its
     * claim is older than `leaseSeconds` (the run that made it died mid-delivery).
     */
    async claimNotification (requestId: string, kind: string, leaseSeconds: number, tx: TxHandle = dbh): Promise<boolean> {
      const [claimed] = await tx.rows<{ request_id: string }>(sql`
        insert into deadline_notifications (request_id, kind) values (${requestId}, ${kind})
        on conflict (request_id, kind) do update set notified_at = now()
          where deadline_notifications.delivery_status is null
            and deadline_notifications.notified_at < now() - make_interval(secs => ${leaseSeconds})
        returning request_id`)
      return claimed !== undefined
    },

    /** Records the HTTP status of a delivered warning: it is not sent again. */
    async markDelivered (requestId: string, kind: string, status: number, tx: TxHandle = dbh): Promise<void> {
      await tx.rows(sql`update deadline_notifications set delivery_status = ${status} where request_id = ${requestId} and kind = ${kind}`)
    },

    /** Gives a claim back after a failed delivery, so the next run tries again. */
    async releaseClaim (requestId: string, kind: string, tx: TxHandle = dbh): Promise<void> {
      await tx.rows(sql`delete from deadline_notifications where request_id = ${requestId} and kind = ${kind}`)
    }
  }
}

export type DeadlinesRepository = ReturnType<typeof createDeadlinesRepository>
