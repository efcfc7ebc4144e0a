import { randomInt } from 'node:crypto'

/**
 * How long to wait before attempt `attempt + 1`, for tasks and transfers alike.
 *
 * - With `retryAfterMs` (the system's or receiver's Retry-After), that, capped at `maxMs`.
 * - Otherwise exponential backoff, `baseMs * 2^(attempt - 1)` capped at `maxMs`, with "equal
 *   jitter": half of it fixed, half random, so the retries of many tasks spread out. The result
 *   lies in [floor(b / 2), b - 1] for a backoff b of 2 ms or more (0 below that).
 *
 * `attempt` is the number of attempts made so far (1 after the first). `random(n)` returns a whole
 * number in [0, n); it defaults to node:crypto's randomInt and is there for tests.
 */
export function nextDelayMs (opts: {
  attempt: number
  baseMs: number
  maxMs: number
  retryAfterMs?: number | undefined
  random?: (below: number) => number
}): number {
  if (opts.retryAfterMs !== undefined) return Math.min(opts.maxMs, opts.retryAfterMs)
  const backoff = Math.min(opts.maxMs, opts.baseMs * 2 ** (opts.attempt - 1))
  return Math.floor(backoff / 2) + (opts.random ?? randomInt)(Math.max(1, Math.ceil(backoff / 2)))
}
