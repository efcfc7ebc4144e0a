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

export async function readText (req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

export async function readJson (req: IncomingMessage): Promise<unknown> {
  const text = await readText(req)
  if (text.length === 0) return undefined
  try { return JSON.parse(text) } catch { return Symbol.for('invalid-json') }
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

export async function listen (handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>): Promise<{ server: Server, url: string, close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    handler(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, { message: String(err) })
      else res.end()
    })
  })
  server.keepAliveTimeout = 1000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  }
}

export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Counts calls in a sliding window, as a vendor enforcing "N per window" would. */
export class WindowCounter {
  private stamps: number[] = []
  constructor (readonly limit: number, readonly windowMs: number) {}
  /** Records a call; true when it is over the limit. */
  hit (now = Date.now()): boolean {
    this.stamps = this.stamps.filter((t) => t > now - this.windowMs)
    const over = this.stamps.length >= this.limit
    this.stamps.push(now)
    return over
  }

  get remaining (): number { return Math.max(0, this.limit - this.stamps.filter((t) => t > Date.now() - this.windowMs).length) }
  /** Seconds until the oldest call leaves the window. */
  resetSeconds (now = Date.now()): number { return this.stamps[0] === undefined ? 0 : Math.max(1, Math.ceil((this.stamps[0] + this.windowMs - now) / 1000)) }
}
