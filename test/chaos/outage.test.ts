import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import postgres from 'postgres'
import { openDb } from '../../src/db/client.js'
import { auth, build, requestBody, skipUnlessRequired } from '../helper.js'
import { findPostgresBin, startPrivatePostgres } from './private-postgres.js'

/**
 * The database stops for 6 s under load. Before: 12 to 13 data requests answered 500, readiness probes
 * took up to 2.9 s (one timed out at 5 s), and the idle API took 5 to 10 s to report ready once the
 * database was back. Now: every answer is 2xx or 503 DSR_UNAVAILABLE with Retry-After, every probe
 * answers within 1 s, and the service is ready within 2 s of the database's return.
 */
const OUTAGE_MS = 6000
const found = findPostgresBin()

if ('skip' in found) {
  skipUnlessRequired(t, 'chaos', 'a 6 s database outage', found.skip)
} else {
  t.setTimeout(120_000)
  t.test('a 6 s database outage: no 500, probes within 1 s, ready within 2 s of the return', async (t) => {
    const pg = await startPrivatePostgres(found.bin)
    t.teardown(() => pg.destroy())
    const admin = postgres(pg.url(), { max: 1, onnotice: () => {} })
    await admin.unsafe('create database dsr')
    await admin.end()
    const dbh = await openDb({ url: pg.url('dsr'), maxConnections: 10 })
    await dbh.migrate()
    t.teardown(() => dbh.close())
    const app = await build(t, { dbh, env: { TASK_POLL_SECONDS: '0.5', TASK_LEASE_SECONDS: '3' } })

    const created = await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody() })
    t.equal(created.statusCode, 202, 'a request before the outage')
    const id = created.json().id as string

    // Requests keep coming, from four clients, through the outage and the return.
    const answers: Array<{ status: number, code?: string, retryAfter?: string }> = []
    const sending = new AbortController()
    const client = async (n: number) => {
      for (let i = 0; !sending.signal.aborted; i++) {
        const res = i % 3 === 0
          ? await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody({ subject: { email: `outage${n}-${i}@example.com` } }) })
          : await app.inject({ url: i % 3 === 1 ? `/v1/requests/${id}` : '/v1/requests?limit=5', headers: auth() })
        answers.push({ status: res.statusCode, code: res.json().code, retryAfter: res.headers['retry-after'] as string | undefined })
        await sleep(50)
      }
    }
    const probe = async () => {
      const started = performance.now()
      const res = await app.inject({ url: '/health/ready' })
      return { status: res.statusCode, ms: performance.now() - started }
    }
    const clients = [1, 2, 3, 4].map(client)
    await sleep(500)
    // A probe waits at most 0.8 s for the database; beyond that, its time is this process not getting the
    // CPU (a busy machine), which the event loop's delay measures and the bound below allows for.
    const loopDelay = monitorEventLoopDelay({ resolution: 10 })
    loopDelay.enable()

    const down = performance.now()
    pg.stop()
    const probes: Array<{ status: number, ms: number }> = []
    while (performance.now() - down < OUTAGE_MS) {
      probes.push(await probe())
      await sleep(200)
    }
    pg.start()
    const back = performance.now()
    let ready: number | null = null
    while (ready === null && performance.now() - back < 10_000) {
      const p = await probe()
      probes.push(p)
      if (p.status === 200) ready = performance.now() - back
      else await sleep(100)
    }
    await sleep(1000) // the clients go on against the returned database
    sending.abort()
    await Promise.all(clients)

    const fiveHundreds = answers.filter((a) => a.status >= 500 && a.status !== 503)
    const unavailable = answers.filter((a) => a.status === 503)
    const other = answers.filter((a) => !(a.status >= 200 && a.status < 300) && a.status !== 503)
    const slowest = Math.max(...probes.map((p) => p.ms))
    loopDelay.disable()
    const lag = loopDelay.max / 1e6
    t.comment(`outage ${OUTAGE_MS / 1000} s: ${answers.length} answers, ${answers.length - unavailable.length - other.length} × 2xx, ` +
      `${unavailable.length} × 503, ${fiveHundreds.length} × 500; ${probes.length} probes, slowest ${slowest.toFixed(0)} ms; ` +
      `ready ${ready === null ? 'never' : `${(ready / 1000).toFixed(2)} s`} after the database returned; event loop delay up to ${lag.toFixed(0)} ms`)
    t.equal(fiveHundreds.length, 0, 'no 500')
    t.strictSame(other, [], 'every answer is 2xx or 503')
    t.ok(unavailable.length > 0, 'the outage was met')
    t.ok(unavailable.every((a) => a.code === 'DSR_UNAVAILABLE' && a.retryAfter !== undefined), 'each 503 is DSR_UNAVAILABLE with Retry-After')
    t.ok(slowest <= 1000 + lag, `every probe answered within 1 s, beyond the event loop's delay (slowest ${slowest.toFixed(0)} ms, delay up to ${lag.toFixed(0)} ms)`)
    t.ok(probes.slice(0, 3).every((p) => p.status === 503), 'unready while the database is away')
    t.ok(ready !== null && ready <= 2000, `ready within 2 s of the database's return (${ready === null ? 'never' : ready.toFixed(0)} ms)`)
    const after = await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody({ subject: { email: 'after@example.com' } }) })
    t.equal(after.statusCode, 202, 'requests are taken again')
  })
}
