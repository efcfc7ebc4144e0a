import type PgBoss from 'pg-boss'
import type { FastifyBaseLogger } from 'fastify'
import type { Boss } from './queue.js'
import { ConnectorError } from '../../connectors/types.js'
import { DsrError, JobErrors } from '../errors.js'
import { isDatabaseUnreachable } from '../db/unreachable.js'
import { setTimeout as sleep } from 'node:timers/promises'

/** How long recording a job's outcome is retried while the database is unreachable (a restart, a short outage). */
const RECORD_OUTCOME_FOR_MS = 120_000

/**
 * Records a job's outcome (complete, fail), trying again while the database is unreachable: a job
 * whose outcome is lost stays active until it expires, hours later for an archive build.
 */
async function recordOutcome (fn: () => Promise<unknown>): Promise<void> {
  const until = Date.now() + RECORD_OUTCOME_FOR_MS
  for (let wait = 250; ; wait = Math.min(wait * 2, 5000)) {
    try {
      await fn()
      return
    } catch (err) {
      if (!isDatabaseUnreachable(err) || Date.now() + wait > until) throw err
      await sleep(wait)
    }
  }
}

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
  const wakes = new Map<string, number>()
  return {
    /** How many times `queue` was woken so far: a drain notes it before it fetches (see wait). */
    count (queue: string): number {
      return wakes.get(queue) ?? 0
    },
    /**
     * Resolves when `queue` gets work, or after `ms`; `stop` ends every wait at once. Given the
     * `count` noted before a fetch, it resolves at once if the queue was woken since: work queued
     * while the fetch was under way is not slept through.
     */
    wait (queue: string, ms: number, since?: number): Promise<void> {
      if (since !== undefined && since !== (wakes.get(queue) ?? 0)) return Promise.resolve()
      return new Promise((resolve) => {
        let set = waiting.get(queue)
        if (!set) waiting.set(queue, set = new Set())
        const done = () => { clearTimeout(timer); set!.delete(done); resolve() }
        const timer = setTimeout(done, ms)
        set.add(done)
      })
    },
    wake (queue: string): void {
      wakes.set(queue, (wakes.get(queue) ?? 0) + 1)
      for (const done of [...waiting.get(queue) ?? []]) done()
    },
    wakeAll (): void {
      for (const queue of waiting.keys()) wakes.set(queue, (wakes.get(queue) ?? 0) + 1)
      for (const set of waiting.values()) for (const done of [...set]) done()
    }
  }
}

export type Waker = ReturnType<typeof createWaker>

/** What a drain loop needs: how to take work, and how to do one piece of it. */
export interface DrainOptions<J> {
  /** The queue's name: what wakes its idle workers (createWaker). */
  queue: string
  /**
   * Jobs of this queue run at once in this process, at most, per key: a queue whose jobs share
   * one limit has one key. The task queue's keys are its connectors.
   */
  concurrency: ReadonlyMap<string, number>
  /** The key a job counts against. */
  keyOf (job: J): string
  /** How long an idle worker sleeps before it looks again when nothing woke it. */
  pollMs: number
  /**
   * Takes jobs due now, up to the given number per key (only keys with a free slot are given), in
   * one go; `dueInMs` says when the next one not yet due will be, if known.
   */
  fetch (free: ReadonlyMap<string, number>): Promise<{ jobs: J[], dueInMs?: number | null }>
  /** Does one job; it records its own outcome. */
  run (job: J): Promise<void>
}

/**
 * Works one queue: keeps up to each key's `concurrency` jobs running, with one fetch for all its
 * keys, and fetches again as soon as there may be more: when work is queued (the waker, also
 * while a fetch was under way), or when a slot frees for a key whose last fetch took all it asked
 * for. A key whose fetch came back short has nothing waiting, and its free slots wait for work to
 * be queued. Otherwise it sleeps until the next job not yet due becomes due, or `pollMs` passes
 * (jobs queued by a process that does not notify, leases that ran out). pg-boss 10's own `work()`
 * waits out the polling interval after every fetch, jobs waiting or not, which capped a worker at
 * one job per interval.
 */
export function startDrain<J> (waker: Waker, log: FastifyBaseLogger, opts: DrainOptions<J>) {
  const running = new Set<Promise<void>>()
  const busy = new Map<string, number>()
  /** Keys whose last fetch took as many jobs as it asked for: more may be waiting. */
  const more = new Set<string>()
  const stopping = new AbortController()

  function start (job: J): void {
    const key = opts.keyOf(job)
    busy.set(key, (busy.get(key) ?? 0) + 1)
    const run = opts.run(job).catch((err: unknown) => log.error({ err, queue: opts.queue }, 'job handler broke'))
      .finally(() => {
        running.delete(run)
        busy.set(key, (busy.get(key) ?? 1) - 1)
        if (more.has(key)) waker.wake(opts.queue)
      })
    running.add(run)
  }

  async function loop (): Promise<void> {
    while (!stopping.signal.aborted) {
      const free = new Map<string, number>()
      for (const [key, limit] of opts.concurrency) {
        const n = limit - (busy.get(key) ?? 0)
        if (n > 0) free.set(key, n)
      }
      const woken = waker.count(opts.queue)
      let dueInMs: number | null | undefined
      if (free.size > 0) {
        let jobs: J[] = []
        try {
          ({ jobs, dueInMs } = await opts.fetch(free))
        } catch (err) {
          log.error({ err, queue: opts.queue }, 'fetching jobs failed')
        }
        const taken = new Map<string, number>()
        for (const job of jobs) {
          const key = opts.keyOf(job)
          taken.set(key, (taken.get(key) ?? 0) + 1)
          start(job)
        }
        for (const [key, n] of free) (taken.get(key) ?? 0) >= n ? more.add(key) : more.delete(key)
      }
      await waker.wait(opts.queue, dueInMs !== undefined && dueInMs !== null ? Math.max(0, Math.min(opts.pollMs, dueInMs)) : opts.pollMs, woken)
    }
  }

  const looping = loop()
  return {
    /** Stops fetching and waits for the jobs running here (at most `timeoutMs`). */
    async stop (timeoutMs: number): Promise<void> {
      stopping.abort()
      waker.wake(opts.queue)
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
      await recordOutcome(() => boss.complete(opts.queue, ids)).catch((err: unknown) => log.error({ err, queue: opts.queue }, 'could not complete jobs'))
    })
    return flushing
  }

  const drain = startDrain<FetchedJob<T>>(waker, log, {
    queue: opts.queue,
    concurrency: new Map([[opts.queue, opts.concurrency]]),
    keyOf: () => opts.queue,
    pollMs: opts.pollMs,
    fetch: async (free) => ({ jobs: await boss.fetch<T>(opts.queue, { batchSize: free.get(opts.queue)!, includeMetadata: true }) ?? [] }),
    async run (job) {
      try {
        await opts.handler(job)
        done.push(job.id)
        void flushCompleted() // never rejects: a failure to complete is logged
      } catch (err) {
        const code = err instanceof DsrError || err instanceof ConnectorError ? err.code : JobErrors.JobFailed.code
        await recordOutcome(() => boss.fail(opts.queue, job.id, { code }))
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
