import t from 'tap'
import { nextDelayMs } from '../../src/engine/backoff.js'

const lowest = () => 0
const highest = (below: number) => below - 1
const base = { baseMs: 1000, maxMs: 60_000 }

t.test('exponential backoff with equal jitter: half fixed, half random', async (t) => {
  for (const [attempt, backoff] of [[1, 1000], [2, 2000], [3, 4000], [4, 8000]] as const) {
    t.equal(nextDelayMs({ ...base, attempt, random: lowest }), backoff / 2, `attempt ${attempt}: at least half of ${backoff}`)
    t.equal(nextDelayMs({ ...base, attempt, random: highest }), backoff - 1, `attempt ${attempt}: below ${backoff}`)
  }
  const asked: number[] = []
  nextDelayMs({ ...base, attempt: 3, random: (below) => { asked.push(below); return 0 } })
  t.same(asked, [2000], 'the random half spans half the backoff')
})

t.test('the default randomness stays within the bounds', async (t) => {
  for (let i = 0; i < 200; i++) {
    const delay = nextDelayMs({ ...base, attempt: 2 })
    t.ok(Number.isInteger(delay) && delay >= 1000 && delay < 2000, `${delay} in [1000, 2000)`)
  }
})

t.test('odd and tiny backoffs', async (t) => {
  t.equal(nextDelayMs({ attempt: 1, baseMs: 5, maxMs: 100, random: lowest }), 2, 'floor of half')
  t.equal(nextDelayMs({ attempt: 1, baseMs: 5, maxMs: 100, random: highest }), 4, 'floor(5/2) + ceil(5/2) - 1')
  t.equal(nextDelayMs({ attempt: 1, baseMs: 1, maxMs: 100 }), 0, 'a 1 ms backoff waits 0')
  t.equal(nextDelayMs({ attempt: 1, baseMs: 0, maxMs: 100 }), 0, 'no backoff, no wait')
})

t.test('the cap applies before the jitter', async (t) => {
  t.equal(nextDelayMs({ ...base, attempt: 20, random: lowest }), 30_000, 'half the cap at least')
  t.equal(nextDelayMs({ ...base, attempt: 20, random: highest }), 59_999, 'never the cap or more')
  t.equal(nextDelayMs({ ...base, attempt: 100, random: highest }), 59_999, 'huge attempts stay capped')
})

t.test('Retry-After wins, within the cap, without jitter', async (t) => {
  const never = () => { throw new Error('no jitter for Retry-After') }
  t.equal(nextDelayMs({ ...base, attempt: 1, retryAfterMs: 5000, random: never }), 5000, 'longer than the backoff')
  t.equal(nextDelayMs({ ...base, attempt: 5, retryAfterMs: 100, random: never }), 100, 'shorter than the backoff')
  t.equal(nextDelayMs({ ...base, attempt: 1, retryAfterMs: 0, random: never }), 0, 'zero means now')
  t.equal(nextDelayMs({ ...base, attempt: 1, retryAfterMs: 3_600_000, random: never }), 60_000, 'capped at maxMs')
})
