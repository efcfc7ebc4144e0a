import type PgBoss from 'pg-boss'
import type { FastifyBaseLogger } from 'fastify'
import type { Boss } from './queue.js'

/** What a handler is given: the job as pg-boss fetched it (with its retry counts). */
export type FetchedJob<T> = PgBoss.JobWithMetadata<T>

export interface WorkOptions<T> {
  queue: string
  /** Jobs of this queue run at once in this process, at most. */
  concurrency: number
  /** How long an idle worker sleeps before it looks again when nothing woke it. */
  pollMs: number
  handler (job: FetchedJob<T>): Promise<unknown>
}

/**
 * Wakes idle workers when a job is queued. Jobs are queued inside transactions, so the signal must
 * come after the commit: `pg_notify` in the same transaction (queue.ts) is delivered by Postgres
 * after it commits, to every process listening, this one included.
 */
export function createWaker () {
  const waiting = new Map<string, Set<() => void>>()
  return {
    /** Resolves when `queue` gets work, or after `ms`; `stop` ends every wait at once. */
    wait (queue: string, ms: number): Promise<void> {
      return new Promise((resolve) => {
        let set = waiting.get(queue)
        if (!set) waiting.set(queue, set = new Set())
        const done = () => { clearTimeout(timer); set!.delete(done); resolve() }
        const timer = setTimeout(done, ms)
        set.add(done)
      })
    },
    wake (queue: string): void {
      for (const done of [...waiting.get(queue) ?? []]) done()
    },
    wakeAll (): void {
      for (const set of waiting.values()) for (const done of [...set]) done()
    }
  }
}

export type Waker = ReturnType<typeof createWaker>

/**
 * Works one queue: keeps up to `concurrency` jobs running, and fetches again as soon as a slot is
 * free, so a queue with jobs waiting drains as fast as its handlers run. Only an empty fetch makes
 * it sleep, until a job is queued (the waker) or `pollMs` passes (jobs due later, or queued by a
 * process that does not notify). pg-boss 10's own `work()` waits out the polling interval after
 * every fetch, jobs waiting or not, which capped a worker at one job per interval.
 *
 * A handler that resolves completes its job; one that throws fails it, and pg-boss retries it
 * within the job's retryLimit (the error's code is kept, never its message: it could hold data).
 */
export function startWorker<T> (boss: Boss, waker: Waker, log: FastifyBaseLogger, opts: WorkOptions<T>) {
  const running = new Set<Promise<void>>()
  let stopping = false
  let slotFreed: (() => void) | null = null
  // Jobs done here, completed together: one statement for all that finished in the same turn.
  let done: string[] = []
  let flushing: Promise<void> | null = null

  function flushCompleted (): Promise<void> {
    flushing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
      const ids = done
      done = []
      flushing = null
      // A job left active (the process died first) expires and is fetched again; its handler is idempotent.
      await boss.complete(opts.queue, ids).catch((err: unknown) => log.error({ err, queue: opts.queue }, 'could not complete jobs'))
    })
    return flushing
  }

  async function runOne (job: FetchedJob<T>): Promise<void> {
    try {
      await opts.handler(job)
      done.push(job.id)
      void flushCompleted()
    } catch (err) {
      const code = (err as { code?: unknown }).code
      await boss.fail(opts.queue, job.id, { code: typeof code === 'string' ? code : 'DSR_JOB_FAILED' })
        .catch((failErr: unknown) => log.error({ err: failErr, queue: opts.queue }, 'could not record a failed job'))
    }
  }

  async function loop (): Promise<void> {
    while (!stopping) {
      const free = opts.concurrency - running.size
      if (free <= 0) {
        await new Promise<void>((resolve) => { slotFreed = resolve })
        continue
      }
      let jobs: Array<FetchedJob<T>>
      try {
        jobs = await boss.fetch<T>(opts.queue, { batchSize: free, includeMetadata: true }) ?? []
      } catch (err) {
        log.error({ err, queue: opts.queue }, 'fetching jobs failed')
        jobs = []
      }
      if (jobs.length === 0) {
        await waker.wait(opts.queue, opts.pollMs)
        continue
      }
      for (const job of jobs) {
        const run = runOne(job).catch((err: unknown) => log.error({ err, queue: opts.queue }, 'job handler broke'))
          .finally(() => {
            running.delete(run)
            const freed = slotFreed
            slotFreed = null
            freed?.()
          })
        running.add(run)
      }
    }
  }

  const looping = loop()
  return {
    /** Stops fetching and waits for the jobs running here (at most `timeoutMs`). */
    async stop (timeoutMs: number): Promise<void> {
      stopping = true
      waker.wake(opts.queue)
      slotFreed?.()
      await looping
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        Promise.allSettled([...running]),
        new Promise((resolve) => { timer = setTimeout(resolve, timeoutMs) })
      ])
      clearTimeout(timer)
      if (done.length > 0) await flushCompleted()
      else if (flushing) await flushing
    }
  }
}

export type Worker = ReturnType<typeof startWorker>
