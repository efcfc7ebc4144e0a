import { ConnectorError, ConnectorErrorCodes } from '../types.js'

/**
 * What a request holds while it is out: called when its response is done. `sent`, where present, is
 * called just before the request goes out, once every limiter is held.
 */
export type Release = (() => void) & { sent?: () => void }

/** Something a request waits on before it goes out. */
export interface Limiter {
  acquire (signal: AbortSignal): Promise<Release>
}

function aborted (signal: AbortSignal): ConnectorError {
  return new ConnectorError(ConnectorErrorCodes.Timeout, 'aborted while waiting for a rate-limit slot', { retryable: true, cause: signal.reason })
}

/** Resolves after `ms`, or rejects with a retryable ConnectorError when `signal` aborts first. */
export function sleep (ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(aborted(signal))
    const onAbort = () => { clearTimeout(timer); reject(aborted(signal)) }
    const timer = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve() }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * At most `limit` acquisitions in any window of `windowMs` (a true sliding window, so a vendor counting
 * requests per second never sees more than `limit`, whatever the burst). `marginMs` widens the window
 * to absorb network jitter between our clock and the vendor's.
 */
export class SlidingWindowLimiter implements Limiter {
  private readonly stamps: number[] = []
  private queue: Promise<void> = Promise.resolve()

  constructor (readonly limit: number, readonly windowMs: number, readonly marginMs = 25) {
    if (!(limit >= 1)) throw new RangeError('limit must be at least 1')
  }

  acquire (signal: AbortSignal): Promise<Release> {
    // Waiters are served in order: each one waits for the previous to have taken its slot.
    const turn = this.queue.then(() => this.take(signal))
    this.queue = turn.then(() => {}, () => {})
    return turn.then((stamp) => Object.assign(() => {}, { sent: () => this.restamp(stamp) }))
  }

  /**
   * Moves a slot's time to when its request actually goes out. A request holding several limiters
   * (HubSpot search: the 10-second burst and the per-second search limit) can wait on a later one
   * after taking an earlier one's slot; the vendor counts the call when it arrives, so the slot must
   * count from then. Moving a stamp later only ever makes the limiter stricter.
   */
  private restamp (stamp: number): void {
    const i = this.stamps.indexOf(stamp)
    if (i < 0) return
    this.stamps.splice(i, 1)
    const now = Date.now()
    let j = this.stamps.length
    while (j > 0 && this.stamps[j - 1]! > now) j--
    this.stamps.splice(j, 0, now)
  }

  private async take (signal: AbortSignal): Promise<number> {
    for (;;) {
      if (signal.aborted) throw aborted(signal)
      const now = Date.now()
      const span = this.windowMs + this.marginMs
      while (this.stamps.length > 0 && this.stamps[0]! <= now - span) this.stamps.shift()
      if (this.stamps.length < this.limit) {
        this.stamps.push(now)
        return now
      }
      await sleep(this.stamps[0]! + span - now + 1, signal)
    }
  }
}

/** At most `max` requests in flight at once (Mailchimp counts simultaneous connections, not a rate). */
export class ConcurrencyLimiter implements Limiter {
  private active = 0
  private readonly waiting: Array<() => void> = []

  constructor (readonly max: number) {
    if (!(max >= 1)) throw new RangeError('max must be at least 1')
  }

  get inFlight (): number { return this.active }

  acquire (signal: AbortSignal): Promise<() => void> {
    if (signal.aborted) return Promise.reject(aborted(signal))
    const grant = () => {
      this.active++
      let released = false
      return () => {
        if (released) return
        released = true
        this.active--
        this.waiting.shift()?.()
      }
    }
    if (this.active < this.max) return Promise.resolve(grant())
    return new Promise((resolve, reject) => {
      const wake = () => { signal.removeEventListener('abort', onAbort); resolve(grant()) }
      const onAbort = () => {
        const i = this.waiting.indexOf(wake)
        if (i >= 0) this.waiting.splice(i, 1)
        reject(aborted(signal))
      }
      this.waiting.push(wake)
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }
}

/** Runs `fn` over `items` with at most `max` at once, results in input order. */
export async function mapConcurrent<T, R> (items: readonly T[], max: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(max, items.length) }, worker))
  return out
}
