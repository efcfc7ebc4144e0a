import t from 'tap'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import pino from 'pino'
import { sql } from 'drizzle-orm'
import type { FastifyBaseLogger } from 'fastify'
import { auth, build, requestBody } from '../helper.js'
import { loadConfig } from '../../src/config.js'
import { runDeadlineMonitor } from '../../src/engine/deadline-monitor.js'

/**
 * The deadline webhook goes through the guarded client every outbound POST takes
 * (src/transfers/outbound.ts): a redirect is a failed delivery, never followed (#15: after a 307 the
 * signed body went to the redirect target), and the connection goes to the address checked.
 */

type Tap = Parameters<typeof build>[0]
const SECRET = 'deadline-webhook-secret-0123456789'

async function server (t: Tap, handle: (req: IncomingMessage, res: ServerResponse) => void) {
  const calls: string[] = []
  const s = createServer((req, res) => {
    calls.push(`${req.method} ${req.url}`)
    req.resume()
    req.on('end', () => handle(req, res))
  })
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { s.closeAllConnections(); s.close(() => resolve()) }))
  return { calls, port: (s.address() as AddressInfo).port }
}

async function overdueRequest (t: Tap) {
  const app = await build(t, { env: { SCHEDULER_ENABLED: 'false' } })
  const res = await app.inject({ method: 'POST', url: '/v1/requests', headers: auth('writer'), payload: requestBody() })
  await app.dbh.rows(sql`update requests set due_at = now() - interval '1 hour' where id = ${res.json().id as string}`)
  const lines: string[] = []
  const log = pino({ level: 'trace' }, new Writable({ write (chunk, _enc, cb) { lines.push(chunk.toString()); cb() } })) as unknown as FastifyBaseLogger
  return { app, log, lines }
}

t.test('a redirect from the webhook receiver is not followed: the signed body never reaches its target', async (t) => {
  const { app, log, lines } = await overdueRequest(t)
  const target = await server(t, (_req, res) => res.writeHead(204).end())
  const redirecting = await server(t, (_req, res) => res.writeHead(307, { location: `http://127.0.0.1:${target.port}/stolen` }).end())
  const url = `http://127.0.0.1:${redirecting.port}/hooks/dsr`
  const counts = await runDeadlineMonitor({ dbh: app.dbh, log, webhookUrl: url, secret: SECRET, warningHours: 72 }, new Date())
  t.strictSame(counts, { due_soon: 0, overdue: 1, notified: 0, failed: 1 }, 'a 307 is a failed delivery')
  t.strictSame(redirecting.calls, ['POST /hooks/dsr'], 'the configured receiver was called once')
  t.strictSame(target.calls, [], 'the redirect target got nothing')
  const claims = await app.dbh.rows(sql`select 1 from deadline_notifications`)
  t.equal(claims.length, 0, 'the claim is given back for the next run')
  t.ok(lines.some((l) => JSON.parse(l).msg === 'deadline webhook redirected; redirects are not followed'), 'the redirect is logged')
})

t.test('the webhook goes to the address its host was checked to resolve to, over https unless loopback', async (t) => {
  const { app, log } = await overdueRequest(t)
  const hook = await server(t, (_req, res) => res.writeHead(204).end())
  const asked: string[] = []
  // The name resolves (by the injected DNS) to the receiver on loopback: the connection goes there.
  const resolve = async (host: string) => { asked.push(host); return [{ address: '127.0.0.1', family: 4 as const }] }
  const counts = await runDeadlineMonitor({ dbh: app.dbh, log, webhookUrl: `http://localhost:${hook.port}/hooks/dsr`, secret: SECRET, warningHours: 72, resolve }, new Date())
  t.match(counts, { notified: 1 })
  t.strictSame(asked, ['localhost'], 'resolved once, by the guard')
  t.strictSame(hook.calls, ['POST /hooks/dsr'])
  t.throws(() => loadConfig({ DEADLINE_WEBHOOK_URL: 'http://alerts.example/hook' }), /DEADLINE_WEBHOOK_URL.*http is allowed only for loopback/, 'plain http elsewhere stops the service')
  t.doesNotThrow(() => loadConfig({ DEADLINE_WEBHOOK_URL: 'https://alerts.example/hook' }))
})
