import type { FastifyBaseLogger } from 'fastify'
import type { DbHandle } from '../db/client.js'
import { createJobRunsRepository } from '../db/repositories/job-runs-repository.js'
import { cronQueue, type Boss } from '../jobs/queue.js'

/** A job the scheduler runs on a cron schedule, at most once per period for the whole deployment. */
export interface ScheduledJob {
  /** Stable name: the job_runs name, and the pg-boss queue `dsr_cron_<name>`. */
  name: string
  /** Five-field cron, UTC (pg-boss cron has minute granularity). */
  cron: string
  /** Does the work for the period starting at `slot`; returns counts only (stored in job_runs.details). */
  run (slot: Date): Promise<Record<string, unknown>>
}

/** The period start of a cron tick: the minute it was sent in. */
export function minuteSlot (at: Date): Date {
  return new Date(Math.floor(at.getTime() / 60_000) * 60_000)
}

/**
 * Runs scheduled jobs on pg-boss cron. pg-boss already sends one job per cron tick across instances
 * (its schedule table and a singleton per minute); on top of that every run first inserts its
 * (name, slot) into job_runs, and only the instance whose insert went in runs the job. So a period
 * runs once, provably, even if a tick is delivered twice or two instances tick by hand.
 */
export function createScheduler (deps: {
  dbh: DbHandle
  boss: Boss
  /** Works a queue in this process (the engine's workers). */
  work: (opts: { queue: string, concurrency: number, pollMs: number, handler (job: { createdOn: Date }): Promise<unknown> }) => void
  instance: string
  log: FastifyBaseLogger
  jobs: readonly ScheduledJob[]
}) {
  const { dbh, boss, log } = deps
  const jobRuns = createJobRunsRepository(dbh)
  const byName = new Map(deps.jobs.map((j) => [j.name, j]))

  /** Runs job `name` for the period starting at `slot` unless some instance already did. */
  async function tick (name: string, slot: Date): Promise<{ ran: boolean, details?: Record<string, unknown> }> {
    const job = byName.get(name)
    if (!job) throw new Error(`no scheduled job ${name}`)
    const runId = await jobRuns.claimRun(name, slot, deps.instance)
    if (runId === null) return { ran: false }
    try {
      const details = await job.run(slot)
      await jobRuns.markSucceeded(runId, details)
      return { ran: true, details }
    } catch (err) {
      log.error({ err, job: name }, 'scheduled job failed')
      const details = { error: (err as { code?: string }).code ?? (err as Error)?.name ?? 'error' }
      await jobRuns.markFailed(runId, details)
      return { ran: true, details }
    }
  }

  return {
    jobs: deps.jobs,
    tick,

    /** Creates each job's queue and cron schedule, and works the queue in this instance. */
    async start (): Promise<void> {
      for (const job of deps.jobs) {
        const queue = cronQueue(job.name)
        await boss.createQueue(queue)
        await boss.schedule(queue, job.cron, {}, { tz: 'UTC' })
        // The period is the minute pg-boss cron sent the job in (createdOn: a Date on both databases, see db/pg-types.ts).
        deps.work({ queue, concurrency: 1, pollMs: 2000, handler: (sent) => tick(job.name, minuteSlot(sent.createdOn)) })
      }
    }
  }
}

export type Scheduler = ReturnType<typeof createScheduler>
