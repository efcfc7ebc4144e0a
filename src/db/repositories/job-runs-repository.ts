import { sql } from 'drizzle-orm'
import type { DbHandle, TxHandle } from '../client.js'

/**
 * Runs of scheduled jobs (job_runs), one row per job name and period slot: the unique (name, slot)
 * pair is what makes a period run once for the whole deployment.
 */
export function createJobRunsRepository (dbh: DbHandle) {
  return {
    /** Claims the (name, slot) period for `instance`; the run's id, or null when some instance already claimed it. */
    async claimRun (name: string, slot: Date, instance: string, tx: TxHandle = dbh): Promise<number | null> {
      const [claimed] = await tx.rows<{ id: number }>(sql`
      insert into job_runs (name, slot, instance) values (${name}, ${slot.toISOString()}, ${instance})
      on conflict (name, slot) do nothing returning id`)
      return claimed?.id ?? null
    },

    /** Ends a claimed run as succeeded, with its counts. */
    async markSucceeded (id: number, details: Record<string, unknown>, tx: TxHandle = dbh): Promise<void> {
      await tx.rows(sql`update job_runs set finished_at = now(), outcome = 'succeeded', details = ${JSON.stringify(details)}::jsonb where id = ${id}`)
    },

    /** Ends a claimed run as failed, with the error's code. */
    async markFailed (id: number, details: Record<string, unknown>, tx: TxHandle = dbh): Promise<void> {
      await tx.rows(sql`update job_runs set finished_at = now(), outcome = 'failed', details = ${JSON.stringify(details)}::jsonb where id = ${id}`)
    }
  }
}

export type JobRunsRepository = ReturnType<typeof createJobRunsRepository>
