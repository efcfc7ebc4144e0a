import PgBoss from 'pg-boss'
import type { DbHandle, SqlExecutor } from '../db/client.js'

/** Job names and payloads, in one place. */
export const taskQueue = (connectorId: string) => `dsr_task_${connectorId}`
export interface TaskJob { taskId: string }
/** Direct transfers of archives to other controllers (GDPR Art 20(2)). */
export const TRANSFER_QUEUE = 'dsr_transfer'
export interface TransferJob { transferId: string }
/** Builds the portability archive of a completed access or portability request. */
export const ARCHIVE_QUEUE = 'dsr_archive'
export interface ArchiveJob { requestId: string }

/**
 * The connection pg-boss queries through. pg-boss's own timers (supervision, cron) can have a query
 * in flight, or start one, after `stop()` returns; once `close()` is called, in-flight queries are
 * awaited and new ones never settle (pg-boss is stopping), so none meets a pool closed behind it.
 */
function gatedExecutor (executor: SqlExecutor): SqlExecutor & { close (): Promise<void> } {
  const inFlight = new Set<Promise<unknown>>()
  let closed = false
  return {
    executeSql (text, values) {
      if (closed) return new Promise(() => {})
      const query = executor.executeSql(text, values)
      inFlight.add(query)
      const forget = () => { inFlight.delete(query) }
      query.then(forget, forget)
      return query
    },
    async close () {
      closed = true
      await Promise.allSettled([...inFlight])
    }
  }
}

/** pg-boss on the service's own connection (Postgres or the embedded database). */
export function createBoss (dbh: DbHandle, opts: { supervise: boolean, schedule: boolean }): Boss {
  const db = gatedExecutor(dbh.executor)
  const boss = new PgBoss({
    db,
    schema: 'pgboss',
    supervise: opts.supervise,
    schedule: opts.schedule,
    migrate: true
  })
  // pg-boss 10's create_queue inserts the queue row, then alters tables: two processes creating one
  // new queue at once (workers starting together) deadlock, and the loser would die at boot. It
  // tries again; the queue then exists and the call does nothing.
  const createQueue = boss.createQueue.bind(boss)
  boss.createQueue = async (name: string, options?: Parameters<PgBoss['createQueue']>[1]) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await createQueue(name, options)
      } catch (err) {
        if ((err as { code?: string }).code !== '40P01' || attempt >= 5) throw err
        await new Promise((resolve) => setTimeout(resolve, 50 * attempt + Math.floor(Math.random() * 100)))
      }
    }
  }
  return Object.assign(boss, { releaseConnection: db.close })
}

/** pg-boss, and `releaseConnection()` to call after `stop()`, before the pool closes. */
export type Boss = PgBoss & { releaseConnection (): Promise<void> }

/** Job options for a task: pg-boss retries only infrastructure failures; task retries are ours. */
export function taskJobOptions (timeoutMs: number, startAfter?: Date, db?: SqlExecutor): PgBoss.SendOptions {
  return {
    retryLimit: 3,
    retryDelay: 5,
    retryBackoff: true,
    expireInSeconds: Math.ceil(timeoutMs / 1000) + 60,
    ...(startAfter ? { startAfter } : {}),
    ...(db ? { db } : {})
  } as PgBoss.SendOptions
}

/** Job options for a transfer attempt: the job outlives the longest attempt; retries are ours. */
export function transferJobOptions (maxDurationMs: number, startAfter?: Date, db?: SqlExecutor): PgBoss.SendOptions {
  return taskJobOptions(maxDurationMs, startAfter, db)
}

/** Job options for an archive build: pg-boss retries it (the job is idempotent); the last failure marks it failed. */
export function archiveJobOptions (db: SqlExecutor): PgBoss.SendOptions {
  return { retryLimit: 3, retryDelay: 30, retryBackoff: true, expireInSeconds: 6 * 3600, db } as PgBoss.SendOptions
}
