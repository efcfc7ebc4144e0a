import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { text } from 'node:stream/consumers'
import { Readable } from 'node:stream'
import t, { type Test } from 'tap'
import { SlidingWindowLimiter, request } from '../../connectors/http/index.js'

/** A server answering from a script of statuses, then 200 with `ok`; counts the calls. */
async function scripted (t: Test, statuses: number[]) {
  const script = [...statuses]
  let calls = 0
  const server = createServer((_req, res) => {
    calls++
    const status = script.shift() ?? 200
    if (status === 200) {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok')
      return
    }
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'no' }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/x`, calls: () => calls }
}

const call = (url: string, retry: Record<string, number> = {}, extra: Record<string, unknown> = {}) => request({
  fetch: globalThis.fetch, vendor: 'v', method: 'GET', url, route: 'GET /x', signal: AbortSignal.timeout(20_000), retry: { baseDelayMs: 1, ...retry }, ...extra
})

t.test('a 429 asks us to slow down: it has its own, larger budget than faults', async (t) => {
  const limited = await scripted(t, Array(9).fill(429))
  t.equal((await call(limited.url)).body, 'ok', 'nine 429s in a row are ridden out with the default policy')
  t.equal(limited.calls(), 10)

  const failing = await scripted(t, Array(9).fill(503))
  await t.rejects(call(failing.url), { code: 'DSR_CONNECTOR_UNAVAILABLE', retryable: true }, 'faults stop at `attempts` (5)')
  t.equal(failing.calls(), 5)

  const mixed = await scripted(t, [429, 503, 429, 503, 429, 503, 429, 503])
  t.equal((await call(mixed.url)).body, 'ok', 'each kind counts against its own budget')

  const capped = await scripted(t, Array(9).fill(429))
  await t.rejects(call(capped.url, { attempts: 3 }), { code: 'DSR_CONNECTOR_RATE_LIMITED' }, 'an explicit `attempts` bounds 429s too')
  t.equal(capped.calls(), 3)

  const own = await scripted(t, Array(9).fill(429))
  await t.rejects(call(own.url, { attempts: 1, rateLimitedAttempts: 4 }), { code: 'DSR_CONNECTOR_RATE_LIMITED' })
  t.equal(own.calls(), 4, 'unless `rateLimitedAttempts` is given')
})

t.test('streamBody: failures before the body are retried, then the body arrives unread', async (t) => {
  const server = await scripted(t, [429, 502])
  const res = await call(server.url, {}, { streamBody: true })
  t.equal(server.calls(), 3)
  t.equal(await text(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream)), 'ok')
})

t.test('a rate-limit slot counts from when the call goes out, not from when the slot was taken', async (t) => {
  const limiter = new SlidingWindowLimiter(1, 400, 0)
  const signal = AbortSignal.timeout(5000)
  const t0 = Date.now()
  const first = await limiter.acquire(signal)
  await new Promise((resolve) => setTimeout(resolve, 250)) // waiting on another limiter, or a token
  first.sent?.()
  const sentAt = Date.now()
  await limiter.acquire(signal)
  t.ok(Date.now() - sentAt >= 390, `the next slot waited a whole window after the send (${Date.now() - sentAt} ms), not after the take (${Date.now() - t0} ms since)`)
})
