import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** Fault injection shared by the vendor fakes. Change it at any time through `fake.faults`. */
export interface Faults {
  /** Share of calls (0..1) answered with the vendor's own 429, drawn from a seeded generator. */
  fail429Ratio: number
  /** The next `times` calls answer `status` (with the vendor's error body). */
  failStatus: { status: number, times: number } | null
  /** Added to every call, while it counts as in flight. */
  latencyMs: number
}

export const noFaults = (): Faults => ({ fail429Ratio: 0, failStatus: null, latencyMs: 0 })

/** mulberry32: a reproducible stream of numbers in [0, 1). */
export function seeded (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export interface Call { method: string, path: string, query: Record<string, string>, at: number }

/**
 * A request as a fake is handed it: whole, with when it arrived. A vendor counts a call when the call
 * has reached it, so `at` is taken when the request has been fully read (its body's 'end'), and every
 * limit is judged from it, never from when the fake's code got round to the call (after an injected
 * latency, say).
 *
 * The fakes share the event loop with the client they serve. While the loop is blocked (a long
 * synchronous stretch, or a busy machine not running the process), a request the client has already
 * sent waits unread, and is read afterwards together with the calls sent after it. `earliest` bounds
 * how long it can have waited: `at` when the loop was running as it arrived, otherwise the last time
 * before the stall that the loop was seen running.
 */
export interface Received {
  body: Buffer
  at: number
  earliest: number
}

export function bodyText (received: Received): string {
  return received.body.toString('utf8')
}

export function bodyJson (received: Received): unknown {
  const text = bodyText(received)
  if (text.length === 0) return undefined
  try { return JSON.parse(text) } catch { return Symbol.for('invalid-json') }
}

/** How often the loop watch beats, and the gap (between beats, or since the last) that means a stall. */
const BEAT_MS = 10
const STALL_MS = 30
const loopWatch = { users: 0, timer: undefined as NodeJS.Timeout | undefined, last: 0, before: 0 }

/** Starts watching the event loop for the fake being started; the returned function stops it. */
function watchLoop (): () => void {
  if (loopWatch.users++ === 0) {
    loopWatch.last = loopWatch.before = Date.now()
    loopWatch.timer = setInterval(() => { loopWatch.before = loopWatch.last; loopWatch.last = Date.now() }, BEAT_MS).unref()
  }
  let stopped = false
  return () => {
    if (stopped) return
    stopped = true
    if (--loopWatch.users === 0) clearInterval(loopWatch.timer)
  }
}

/** The earliest a request fully read at `at` can have arrived (see Received). */
function earliestArrival (at: number): number {
  const stalled = at - loopWatch.last > STALL_MS || loopWatch.last - loopWatch.before > STALL_MS
  return stalled ? Math.min(loopWatch.before, at) : at
}

export function send (res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}, type = 'application/json'): void {
  if (body === undefined) {
    res.writeHead(status, headers).end()
    return
  }
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text), ...headers }).end(text)
}

/** JSON with the charset parameter, as HubSpot and Zendesk send it. */
export function sendJson (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  send(res, status, body, headers, 'application/json; charset=utf-8')
}

/** Serves `handler` on 127.0.0.1, handing it each request once its body has been read. */
export async function listen (handler: (req: IncomingMessage, res: ServerResponse, received: Received) => Promise<void>): Promise<{ server: Server, url: string, close: () => Promise<void> }> {
  const unwatch = watchLoop()
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('error', () => {}) // a request the client gave up on is never handled, as by the vendor
    req.on('end', () => {
      const at = Date.now()
      handler(req, res, { body: Buffer.concat(chunks), at, earliest: earliestArrival(at) }).catch((err: unknown) => {
        if (!res.headersSent) send(res, 500, { message: String(err) })
        else res.end()
      })
    })
  })
  server.keepAliveTimeout = 1000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => {
      unwatch()
      server.closeAllConnections()
      server.close(() => resolve())
    })
  }
}

export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * A vendor's "at most `limit` calls in any `windowMs`", read as a rolling window: the strictest
 * reading, so a client the fake accepts is accepted however the vendor counts its windows.
 *
 * Each call is judged as the vendor would judge it, from its arrival. Where that is known only to
 * lie between the call's `earliest` and `at` (see Received), the call is over the limit when it is
 * over for every way the arrivals could have fallen: when `limit` earlier calls arrived less than
 * `windowMs` before it even at their earliest and its latest. Without a stall both bounds are one
 * instant, and the judgement is the vendor's own, to the millisecond.
 */
export class WindowCounter {
  /** The earliest arrival of each call counted. */
  private stamps: number[] = []
  constructor (readonly limit: number, readonly windowMs: number) {}
  /** Records a call; true when it is over the limit. */
  hit (call: Pick<Received, 'at' | 'earliest'>): boolean {
    this.stamps = this.stamps.filter((t) => t > call.at - this.windowMs)
    const over = this.stamps.length >= this.limit
    this.stamps.push(call.earliest)
    return over
  }

  get remaining (): number { return Math.max(0, this.limit - this.stamps.filter((t) => t > Date.now() - this.windowMs).length) }
  /** Seconds until the oldest call leaves the window. */
  resetSeconds (now = Date.now()): number {
    return this.stamps.length === 0 ? 0 : Math.max(1, Math.ceil((Math.min(...this.stamps) + this.windowMs - now) / 1000))
  }
}
