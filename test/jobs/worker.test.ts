import t, { type Test } from 'tap'
import { sql } from 'drizzle-orm'
import pino from 'pino'
import { testDb, waitFor } from '../helper.js'
import { createBoss, enqueue, WAKE_CHANNEL, type JobInsert } from '../../src/jobs/queue.js'
import { createWaker, startWorker } from '../../src/jobs/worker.js'
import type { DbHandle } from '../../src/db/client.js'
import { JobErrors } from '../../src/errors.js'

const log = pino({ level: 'silent' })
const job = (queue: string, n: number, over: Partial<JobInsert> = {}): JobInsert =>
  ({ name: queue, data: { n }, retryLimit: 0, retryDelay: 0, retryBackoff: false, expireInSeconds: 60, ...over })

/** The workers of src/jobs/worker.ts on pg-boss, on this database: the path every queue of the service takes. */
async function scenario (t: Test, dbh: DbHandle) {
  const boss = createBoss(dbh, { supervise: false, schedule: false })
  await boss.start()
  const waker = createWaker()
  const unlisten = await dbh.listen(WAKE_CHANNEL, (queue) => waker.wake(queue))
  const stops: Array<() => Promise<void>> = []
  t.teardown(async () => {
    for (const stop of stops) await stop()
    await unlisten()
    await boss.stop({ graceful: false, wait: true })
    await boss.releaseConnection()
  })
  const states = async (queue: string) => (await dbh.rows<{ state: string, n: number }>(sql`
    select state, count(*)::int as n from pgboss.job where name = ${queue} group by state`)).reduce<Record<string, number>>((m, r) => ({ ...m, [r.state]: Number(r.n) }), {})

  // 1. A queue with jobs waiting drains without waiting a poll interval between jobs (the interval is a
  //    minute here), never running more than its concurrency at once; every job ends completed.
  await boss.createQueue('drain')
  await dbh.transaction((tx) => enqueue(boss, Array.from({ length: 30 }, (_, i) => job('drain', i)), tx))
  let running = 0
  let most = 0
  const seen: number[] = []
  const drain = startWorker<{ n: number }>(boss, waker, log, {
    queue: 'drain',
    concurrency: 3,
    pollMs: 60_000,
    async handler (j) {
      most = Math.max(most, ++running)
      await new Promise((resolve) => setTimeout(resolve, 5))
      seen.push(j.data.n)
      running--
    }
  })
  stops.push(() => drain.stop(5000))
  await waitFor(async () => (await states('drain')).completed === 30, 30_000, 'all 30 jobs completed')
  t.strictSame(seen.slice().sort((a, b) => a - b), Array.from({ length: 30 }, (_, i) => i), 'each job ran once')
  t.equal(most, 3, 'at most the concurrency ran at once, and the worker used all of it')

  // 2. An idle worker is woken by a job queued in a committed transaction (NOTIFY), not by its poll.
  const woke = Date.now()
  await dbh.transaction((tx) => enqueue(boss, [job('drain', 100)], tx))
  await waitFor(async () => seen.includes(100), 30_000, 'the woken job ran')
  t.ok(Date.now() - woke < 10_000, `a new job ran ${Date.now() - woke} ms after its commit, with a 60 s poll interval`)

  // 3. A handler that throws fails its job with the error's code only; pg-boss retries it within the
  //    job's retryLimit, and the retry runs through the same worker.
  await boss.createQueue('flaky')
  const attempts: number[] = []
  const flaky = startWorker<{ n: number }>(boss, waker, log, {
    queue: 'flaky',
    concurrency: 1,
    pollMs: 200,
    async handler (j) {
      attempts.push(j.retryCount)
      if (j.data.n === 3) throw Object.assign(new Error('not one of ours'), { code: 'DSR_LOOKS_LIKE_OURS' })
      if (j.retryCount === 0) throw new JobErrors.ArchiveItemCorrupt('ada@example.com broke it')
    }
  })
  stops.push(() => flaky.stop(5000))
  await dbh.transaction((tx) => enqueue(boss, [job('flaky', 1, { retryLimit: 1 })], tx))
  await waitFor(async () => (await states('flaky')).completed === 1, 30_000, 'the retried job completed')
  t.strictSame(attempts, [0, 1], 'failed once, retried once by pg-boss, then completed')
  const [row] = await dbh.rows<{ output: unknown }>(sql`select output from pgboss.job where name = 'flaky'`)
  t.notOk(JSON.stringify(row?.output ?? null).includes('ada@'), 'the failure kept no message text')

  await dbh.transaction((tx) => enqueue(boss, [job('flaky', 2, { retryLimit: 0 })], tx))
  const failed = async () => (await states('flaky')).failed === 1
  attempts.length = 0
  await waitFor(failed, 30_000, 'a job with no retries left failed')
  const [lost] = await dbh.rows<{ output: unknown }>(sql`select output from pgboss.job where name = 'flaky' and state = 'failed'`)
  t.strictSame(lost?.output, { code: 'DSR_ARCHIVE_ITEM_CORRUPT' }, 'a failed job keeps the error code, nothing else')

  await dbh.transaction((tx) => enqueue(boss, [job('flaky', 3, { retryLimit: 0 })], tx))
  await waitFor(async () => (await states('flaky')).failed === 2, 30_000, 'the job failing with a foreign error failed')
  const [foreign] = await dbh.rows<{ output: unknown }>(sql`select output from pgboss.job where name = 'flaky' and state = 'failed' and (data->>'n')::int = 3`)
  t.strictSame(foreign?.output, { code: 'DSR_JOB_FAILED' }, 'an error not of the catalogue is recorded as DSR_JOB_FAILED, whatever code it carries')
}

t.test('workers drain, wake and retry through pg-boss (DATABASE_URL: Postgres; otherwise embedded)', async (t) => scenario(t, await testDb(t)))
if (process.env.DATABASE_URL) t.test('and on the embedded database', async (t) => scenario(t, await testDb(t, { embedded: true })))
