import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** Shared bits of the HubSpot and Zendesk fakes: a server on 127.0.0.1:0, bodies, a sliding-window counter. */
export interface FakeServer { url: string, close: () => Promise<void> }

export async function startServer (handler: (req: IncomingMessage, res: ServerResponse, body: string) => Promise<void> | void): Promise<FakeServer> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      Promise.resolve(handler(req, res, Buffer.concat(chunks).toString('utf8'))).catch((err: unknown) => {
        res.statusCode = 500
        res.end(String(err))
      })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()) })
  }
}

export function sendJson (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers })
  res.end(JSON.stringify(body))
}

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

export interface FaultModes {
  /** Share of calls (0..1) answered 429 the vendor's way. */
  fail429Ratio: number
  /** The next `times` calls answer `status`. */
  failStatus: { status: number, times: number } | null
  latencyMs: number
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
