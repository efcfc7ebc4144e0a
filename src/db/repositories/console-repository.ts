import { and, asc, desc, eq, gte, inArray, notInArray, sql, type SQL } from 'drizzle-orm'
import type { DbHandle } from '../client.js'
import { connectorHealth, requests, systemEvents, tasks } from '../schema.js'
import { TERMINAL_STATUSES, type RequestStatus } from '../../domain/lifecycle.js'
import type { RequestRow } from './requests-repository.js'

/** Where a queue page starts: the sort key of the last row of the page before, and the instant the first page was judged at. */
export interface QueueKey { asOf: Date, overdue: boolean, child: boolean, dueAt: Date, seq: number }

export interface QueueFilter {
  status?: RequestStatus[]
  type?: string[]
  regime?: string[]
  /** Requests with a task for this connector. */
  connector?: string
  /** Overdue is judged at this instant on every page of one walk through the queue. */
  asOf: Date
  after?: QueueKey
  limit: number
}

/**
 * What the operator console reads that the API does not: the open requests in the order they are worked
 * (overdue first, then children, then by effective deadline), and whether a console session was signed out.
 */
export function createConsoleRepository (dbh: DbHandle) {
  const { db } = dbh
  const overdue = (asOf: Date) => sql`(${requests.effectiveDueAt} < ${asOf.toISOString()}::timestamptz)`

  return {
    /** Open requests, most urgent first; keyset-paged on (overdue, child, effective_due_at, seq) so pages never skip or repeat a row. */
    async queue (f: QueueFilter): Promise<RequestRow[]> {
      const late = overdue(f.asOf)
      const where: Array<SQL | undefined> = [
        notInArray(requests.status, [...TERMINAL_STATUSES]),
        f.status && inArray(requests.status, f.status),
        f.type && inArray(requests.type, f.type as RequestRow['type'][]),
        f.regime && inArray(requests.regime, f.regime as RequestRow['regime'][]),
        f.connector !== undefined
          ? sql`exists (select 1 from ${tasks} where ${tasks.requestId} = ${requests.id} and ${tasks.connectorId} = ${f.connector})`
          : undefined,
        f.after
          ? sql`(case when ${late} then 0 else 1 end, case when ${requests.child} then 0 else 1 end, ${requests.effectiveDueAt}, ${requests.seq}) >
              (${f.after.overdue ? 0 : 1}, ${f.after.child ? 0 : 1}, ${f.after.dueAt.toISOString()}::timestamptz, ${f.after.seq})`
          : undefined
      ]
      return db.select().from(requests).where(and(...where))
        .orderBy(sql`case when ${late} then 0 else 1 end`, sql`case when ${requests.child} then 0 else 1 end`, asc(requests.effectiveDueAt), asc(requests.seq))
        .limit(f.limit)
    },

    /** Every connector's health checks since `since`, oldest first (at most `limit` per call). */
    async healthSince (since: Date, limit: number) {
      return db.select().from(connectorHealth).where(gte(connectorHealth.checkedAt, since))
        .orderBy(asc(connectorHealth.checkedAt), asc(connectorHealth.id)).limit(limit)
    },

    /** The latest retention sweep of each connector that had one: when, by whom, and its counts. */
    async lastSweeps (): Promise<Map<string, { at: Date, actor: string, details: Record<string, unknown> | null }>> {
      const rows = await db.selectDistinctOn([sql`${systemEvents.details}->>'connector'`], { at: systemEvents.at, actor: systemEvents.actor, details: systemEvents.details })
        .from(systemEvents).where(eq(systemEvents.action, 'retention_sweep'))
        .orderBy(sql`${systemEvents.details}->>'connector'`, desc(systemEvents.at))
      return new Map(rows.map((r) => [String(r.details?.connector), r]))
    },

    /**
     * True when a `console_signed_out` event since `since` names this session. A session lives at most
     * a few hours, so only the sign-outs of that window are read (index system_events_action).
     */
    async signedOut (session: string, since: Date): Promise<boolean> {
      const [row] = await db.select({ id: systemEvents.id }).from(systemEvents)
        .where(and(eq(systemEvents.action, 'console_signed_out'), gte(systemEvents.at, since), sql`${systemEvents.details}->>'session' = ${session}`)).limit(1)
      return row !== undefined
    }
  }
}

export type ConsoleRepository = ReturnType<typeof createConsoleRepository>
