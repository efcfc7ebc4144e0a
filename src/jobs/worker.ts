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

/** What a drain loop needs: how to take work, and how to do one piece of it. */
export interface DrainOptions<J> {
  /** The queue's name: what wakes its idle workers (createWaker). */
  queue: string
  /** Jobs of this queue run at once in this process, at most. */
  concurrency: number
  /** How long an idle worker sleeps before it looks again when nothing woke it. */
  pollMs: number
  /** Takes up to `n` jobs due now; `dueInMs` says when the next one not yet due will be, if known. */
  fetch (n: number): Promise<{ jobs: J[], dueInMs?: number | null }>
  /** Does one job; it records its own outcome. */
  run (job: J): Promise<void>
}

/**
 * Works one queue: keeps up to `concurrency` jobs running, and fetches again as soon as a slot is
 * free, so a queue with jobs waiting drains as fast as its jobs run. Only an empty fetch makes it
 * sleep, until a job is queued (the waker), the next job not yet due becomes due, or `pollMs`
 * passes (jobs queued by a process that does not notify, leases that ran out). pg-boss 10's own
 * `work()` waits out the polling interval after every fetch, jobs waiting or not, which capped a
 * worker at one job per interval.
 */
export function startDrain<J> (waker: Waker, log: FastifyBaseLogger, opts: DrainOptions<J>) {
  const running = new Set<Promise<void>>()
  let stopping = false
  let slotFreed: (() => void) | null = null

  async function loop (): Promise<void> {
    while (!stopping) {
      const free = opts.concurrency - running.size
      if (free <= 0) {
        await new Promise<void>((resolve) => { slotFreed = resolve })
        continue
      }
      let fetched: { jobs: J[], dueInMs?: number | null }
      try {
        fetched = await opts.fetch(free)
      } catch (err) {
        log.error({ err, queue: opts.queue }, 'fetching jobs failed')
        fetched = { jobs: [] }
      }
      if (fetched.jobs.length === 0) {
        const due = fetched.dueInMs
        await waker.wait(opts.queue, due !== undefined && due !== null ? Math.max(0, Math.min(opts.pollMs, due)) : opts.pollMs)
        continue
      }
      for (const job of fetched.jobs) {
        const run = opts.run(job).catch((err: unknown) => log.error({ err, queue: opts.queue }, 'job handler broke'))
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
    }
  }
}

/**
 * Works one pg-boss queue (startDrain). A handler that resolves completes its job; one that
 * throws fails it, and pg-boss retries it within the job's retryLimit (the error's code is kept,
 * never its message: it could hold data).
 */
export function startWorker<T> (boss: Boss, waker: Waker, log: FastifyBaseLogger, opts: WorkOptions<T>) {
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

  const drain = startDrain<FetchedJob<T>>(waker, log, {
    queue: opts.queue,
    concurrency: opts.concurrency,
    pollMs: opts.pollMs,
    fetch: async (n) => ({ jobs: await boss.fetch<T>(opts.queue, { batchSize: n, includeMetadata: true }) ?? [] }),
    async run (job) {
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
  })

  return {
    /** Stops fetching and waits for the jobs running here (at most `timeoutMs`), then completes them. */
    async stop (timeoutMs: number): Promise<void> {
      await drain.stop(timeoutMs)
      if (done.length > 0) await flushCompleted()
      else if (flushing) await flushing
    }
  }
}

export type Worker = { stop (timeoutMs: number): Promise<void> }
