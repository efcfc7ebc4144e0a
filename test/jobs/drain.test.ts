import t from 'tap'
import pino from 'pino'
import { createWaker, startDrain } from '../../src/jobs/worker.js'

// The drain loop of src/jobs/worker.ts on its own (the Postgres paths that use it are in
// task-queue.test.ts and worker.test.ts): one fetch for every key with a free slot, each key
// within its concurrency, and no fetch that could only come back empty.

const log = pino({ level: 'silent' })
interface Job { key: string, n: number, done: () => void }

function harness () {
  const waker = createWaker()
  const queued: Array<{ key: string, n: number }> = []
  const fetches: Array<Record<string, number>> = []
  const running: Job[] = []
  let seq = 0
  const drain = startDrain<Job>(waker, log, {
    queue: 'q',
    concurrency: new Map([['a', 1], ['b', 2]]),
    keyOf: (job) => job.key,
    pollMs: 60_000,
    async fetch (free) {
      fetches.push(Object.fromEntries(free))
      const jobs: Job[] = []
      for (const [key, n] of free) {
        for (let i = 0; i < n; i++) {
          const at = queued.findIndex((q) => q.key === key)
          if (at < 0) break
          const [q] = queued.splice(at, 1)
          let done!: () => void
          const finished = new Promise<void>((resolve) => { done = resolve })
          const job: Job = { ...q!, done }
          jobs.push(Object.assign(job, { finished }))
        }
      }
      return { jobs }
    },
    async run (job) {
      running.push(job)
      await (job as Job & { finished: Promise<void> }).finished
      running.splice(running.indexOf(job), 1)
    }
  })
  const settle = () => new Promise((resolve) => setTimeout(resolve, 20))
  const queue = (key: string) => { queued.push({ key, n: seq++ }); waker.wake('q') }
  return { drain, fetches, running, queued, settle, queue }
}

t.test('one fetch for all keys, each within its concurrency; a freed slot fetches only when more may wait', async (t) => {
  const h = harness()
  t.teardown(() => h.drain.stop(1000))
  await h.settle()
  t.strictSame(h.fetches, [{ a: 1, b: 2 }], 'the first fetch asks for every key, at its limit')

  for (let i = 0; i < 3; i++) h.queue('a')
  h.queue('b')
  await h.settle()
  t.equal(h.running.filter((j) => j.key === 'a').length, 1, 'a runs one at a time')
  t.equal(h.running.filter((j) => j.key === 'b').length, 1, 'b runs its one job')
  const before = h.fetches.length

  // b's queue came back short: its job finishing is no reason to look again.
  h.running.find((j) => j.key === 'b')!.done()
  await h.settle()
  t.equal(h.fetches.length, before, 'a slot of a key whose fetch came back short does not fetch')

  // a's fetch took all it asked for: its slot freeing fetches at once, and a alone is full again.
  h.running.find((j) => j.key === 'a')!.done()
  await h.settle()
  t.equal(h.fetches.length, before + 1, 'a slot of a key with more waiting fetches')
  t.strictSame(h.fetches.at(-1), { a: 1, b: 2 }, 'for every key with a free slot')
  t.equal(h.running.filter((j) => j.key === 'a').length, 1, 'the next of a runs')
  t.equal(h.queued.length, 1, 'one of a still waits')

  h.running.find((j) => j.key === 'a')!.done()
  await h.settle()
  h.running.find((j) => j.key === 'a')!.done()
  await h.settle()
  t.equal(h.queued.length, 0, 'all of a ran')
  const idle = h.fetches.length
  await h.settle()
  t.equal(h.fetches.length, idle, 'idle: no fetch until work is queued')
  h.queue('b')
  await h.settle()
  t.equal(h.fetches.length, idle + 1, 'queued work wakes it')
  t.equal(h.running.length, 1)
  h.running[0]!.done()
})

t.test('work queued while a fetch is under way is not slept through', async (t) => {
  const waker = createWaker()
  let calls = 0
  let release!: () => void
  const ran: number[] = []
  const drain = startDrain<number>(waker, log, {
    queue: 'q',
    concurrency: new Map([['k', 4]]),
    keyOf: () => 'k',
    pollMs: 60_000,
    async fetch () {
      calls++
      if (calls === 1) {
        // The wake arrives while this fetch is out, before it comes back empty.
        await new Promise<void>((resolve) => { release = resolve })
        return { jobs: [] }
      }
      return { jobs: calls === 2 ? [2] : [] }
    },
    async run (n) { ran.push(n) }
  })
  t.teardown(() => drain.stop(1000))
  await new Promise((resolve) => setTimeout(resolve, 10))
  waker.wake('q')
  release()
  await new Promise((resolve) => setTimeout(resolve, 30))
  t.strictSame(ran, [2], 'it fetched again at once and ran the job')
})
