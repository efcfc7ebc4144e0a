import t from 'tap'
import { REPORT_RETAINED_REASON, createZoomConnector, zoomConnector, type ZoomConfig } from '../../connectors/zoom/index.js'
import type { CollectedItem } from '../../connectors/types.js'
import { startZoomFake, type ZoomFake } from '../fakes/zoom.js'
import { connectorContract } from './contract.js'
import { ctx, drain, quiet } from './support.js'

const deps = { log: quiet, fetch: globalThis.fetch }
const ADA = { email: 'ada@example.com' }
const GRACE = { email: 'grace@example.com' }
const fastRetry = { retry: { baseDelayMs: 5, attempts: 8 } }

const settings = (fake: ZoomFake, extra: Partial<ZoomConfig> = {}): ZoomConfig => ({
  base_url: fake.baseUrl,
  token_url: fake.tokenUrl,
  account_id: fake.accountId,
  client_id: fake.clientId,
  client_secret: fake.clientSecret,
  user_id: 'me',
  page_size: 2,
  reports: true,
  rate_limits: { light: fake.limits.Light, medium: fake.limits.Medium, heavy: fake.limits.Heavy },
  ...extra
})
const emailOf = (i: CollectedItem) => i.type === 'record' ? String(i.data.email ?? i.data.user_email ?? '').toLowerCase() : ''

// The rate-limit check runs first and alone: it counts calls per second as they arrive at the fake.
await t.test('zoom: per-category rate limits are honoured, also under fail429Ratio 0.5', async (t) => {
  const fake = await startZoomFake({ limits: { Medium: 8, Heavy: 4, Light: 6 } })
  t.teardown(() => fake.close())
  const greedy = createZoomConnector(settings(fake, { rate_limits: { light: 100, medium: 100, heavy: 100 } }), deps, fastRetry)
  await drain(greedy.collect!(ctx(GRACE))).catch(() => {})
  t.ok(fake.state.violations > 0, 'the fake enforces the limits (a client ignoring them trips it)')
  await new Promise((resolve) => setTimeout(resolve, 1100))

  fake.state.violations = 0
  const c = createZoomConnector(settings(fake), deps, fastRetry)
  const started = Date.now()
  const baseline = await drain(c.collect!(ctx(GRACE)))
  t.equal(fake.state.violations, 0, 'no call over the per-second limits')
  t.ok(Date.now() - started >= 1000, 'the limiter spread the calls out')
  t.equal(baseline.length, 4)

  fake.faults.fail429Ratio = 0.5
  let items: CollectedItem[] | undefined
  for (let run = 0; run < 10 && !items; run++) {
    items = await drain(c.collect!(ctx(GRACE))).catch((e: unknown) => { t.match(e, { retryable: true }); return undefined })
  }
  t.ok(items, 'collect eventually succeeds')
  t.same(items?.map((i) => i.key).sort(), baseline.map((i) => i.key).sort())
  t.equal(fake.state.violations, 0, 'and the retries never exceed the limits')
})

// The other checks each have their own fake, and wait on Zoom's rate limits rather than on the
// machine: they run side by side.
t.jobs = 8

connectorContract(t, 'zoom', async () => {
  const fake = await startZoomFake()
  return {
    connector: createZoomConnector(settings(fake), deps, fastRetry),
    capabilities: zoomConnector.capabilities,
    streams: zoomConnector.streams,
    subject: ADA,
    other: GRACE,
    belongsTo: (item, who) => emailOf(item) === who.email,
    cleanup: () => fake.close()
  }
})

t.test('zoom: settings', async (t) => {
  t.same(zoomConnector.secretFields, ['account_id', 'client_id', 'client_secret'])
  t.same(zoomConnector.streams.map((s) => s.name), ['registrations', 'attendance', 'qa', 'polls'])
})

t.test('zoom: registrations in every status, every page, filtered by e-mail', async (t) => {
  const fake = await startZoomFake()
  t.teardown(() => fake.close())
  const c = createZoomConnector(settings(fake), deps, fastRetry)
  const items = await drain(c.collect!(ctx({ email: 'ADA@example.com ' })))
  t.same(items.map((i) => i.stream), ['registrations', 'registrations', 'registrations', 'registrations'], 'only registrations: Ada has no report data')
  t.same(items.map((i) => i.type === 'record' && i.data.status).sort(), ['approved', 'approved', 'denied', 'pending'], 'approved, pending and denied are all found')
  t.same(items.map((i) => i.key), ['81000000001:r0001Zx', '81000000002:r0003Zx', '81000000003:r0005Zx', '81000000004:r0006Zx'])
  t.ok(items.every((i) => emailOf(i) === 'ada@example.com'), 'matched case-insensitively')
  const webinarPages = fake.state.calls.filter((c) => c.path === '/v2/users/me/webinars')
  t.equal(webinarPages.length, 3, 'five webinars, two per page: three pages')
  t.ok(webinarPages.slice(1).every((c) => c.query.next_page_token), 'follows next_page_token')
  const w1 = fake.state.calls.filter((c) => c.path === '/v2/webinars/81000000001/registrants')
  t.same([...new Set(w1.map((c) => c.query.status))], ['approved', 'pending', 'denied'], 'one listing per status')
  t.equal(w1.filter((c) => c.query.status === 'approved').length, 4, 'seven approved registrants: four pages of two')
  t.ok(fake.state.calls.every((c) => !JSON.stringify(c.query).includes('@')), 'the e-mail never goes over the wire (Zoom has no lookup by e-mail)')
  t.equal(fake.state.tokensIssued, 1, 'one token for the whole run')
})

t.test('zoom: report data is collected, and retained on erase with the reason', async (t) => {
  const fake = await startZoomFake()
  t.teardown(() => fake.close())
  const c = createZoomConnector(settings(fake), deps, fastRetry)
  const items = await drain(c.collect!(ctx(GRACE)))
  t.same(items.map((i) => i.stream).sort(), ['attendance', 'polls', 'qa', 'registrations'])
  t.ok(items.every((i) => emailOf(i) === 'grace@example.com'), 'only Grace\'s entries, not the guests\'')
  const out = await drain(c.erase!(ctx(GRACE)))
  t.same(out, [
    { status: 'erased', stream: 'registrations', count: 1 },
    { status: 'retained', stream: 'attendance', reason: REPORT_RETAINED_REASON },
    { status: 'retained', stream: 'qa', reason: REPORT_RETAINED_REASON },
    { status: 'retained', stream: 'polls', reason: REPORT_RETAINED_REASON }
  ])
  t.equal(REPORT_RETAINED_REASON, 'Zoom offers no API to delete webinar report data (participants, Q&A, polls); ask Zoom support or wait for its retention')
  t.notOk(fake.state.webinars[0]!.registrants.some((r) => r.email.toLowerCase() === 'grace@example.com'))
  const again = await drain(c.erase!(ctx(GRACE)))
  t.same(again.map((o) => o.status), ['not_found', 'retained', 'retained', 'retained'], 'a re-run: nothing to erase, report data still retained')
})

t.test('zoom: a registrant already gone (400, code 3000) counts as not_found', async (t) => {
  const fake = await startZoomFake()
  t.teardown(() => fake.close())
  const c = createZoomConnector(settings(fake), deps, fastRetry)
  const before = fake.state.webinars.map((w) => ({ id: w.id, regs: w.registrants.filter((r) => r.email.toLowerCase() === 'ada@example.com') }))
  t.same((await drain(c.erase!(ctx(ADA))))[0], { status: 'erased', stream: 'registrations', count: 4 })
  t.equal(fake.state.calls.filter((c) => c.method === 'DELETE').length, 4)
  // Zoom's listings lag behind: the deleted registrants still show up once more.
  for (const b of before) for (const r of b.regs) fake.state.ghosts.push({ webinarId: b.id, registrant: r })
  const rerun = await drain(c.erase!(ctx(ADA)))
  t.equal(fake.state.calls.filter((c) => c.method === 'DELETE').length, 8, 'the re-run tries again')
  t.same(rerun, ['registrations', 'attendance', 'qa', 'polls'].map((stream) => ({ status: 'not_found', stream })), 'and 3000 means not_found, not a failure')
  const direct = await fetch(`${fake.baseUrl}/webinars/81000000001/registrants/nope`, { method: 'DELETE', headers: { authorization: 'Bearer x' } })
  t.equal(direct.status, 401, 'the fake checks tokens')
})

t.test('zoom: OAuth token cached until expiry and renewed on 401', async (t) => {
  const fake = await startZoomFake()
  t.teardown(() => fake.close())
  const c = createZoomConnector(settings(fake), deps, fastRetry)
  await drain(c.collect!(ctx(ADA)))
  await drain(c.collect!(ctx(ADA)))
  t.equal(fake.state.tokensIssued, 1)
  const tokenCall = fake.state.calls.find((c) => c.path === '/oauth/token')
  t.same(tokenCall?.query, { grant_type: 'account_credentials', account_id: fake.accountId })
  fake.expireTokens()
  t.equal((await drain(c.collect!(ctx(ADA)))).length, 4, 'a 401 (code 124) drops the token and the call is retried')
  t.equal(fake.state.tokensIssued, 2)
  const bad = createZoomConnector(settings(fake, { client_secret: 'wrong' }), deps, fastRetry)
  t.match(await drain(bad.collect!(ctx(ADA))).catch((e: unknown) => e), { code: 'DSR_CONNECTOR_AUTH', retryable: false })
  t.match(await bad.health({ signal: AbortSignal.timeout(2000) }), { status: 'down', retryable: false })
})

t.test('zoom: 429s are retried; a long Retry-After goes to the engine', async (t) => {
  const fake = await startZoomFake()
  t.teardown(() => fake.close())
  const c = createZoomConnector(settings(fake), deps, { retry: { baseDelayMs: 5, attempts: 3 } })
  fake.faults.failStatus = { status: 429, times: 2 }
  t.equal((await drain(c.collect!(ctx(ADA)))).length, 4)
  fake.faults.failStatus = { status: 429, times: 5 }
  const err = await drain(c.collect!(ctx(ADA))).catch((e: unknown) => e)
  t.match(err, { code: 'DSR_CONNECTOR_RATE_LIMITED', retryable: true })
  fake.faults.failStatus = null

  // Daily limit: Retry-After is a timestamp hours away; not waited for in the task.
  const until = new Date(Date.now() + 3_600_000).toISOString()
  const daily: typeof fetch = async (input, init) => {
    if (String(input).includes('/oauth/token')) return globalThis.fetch(input, init)
    return new Response(JSON.stringify({ code: 429, message: 'You have reached the maximum daily rate limit for this API.' }), {
      status: 429, headers: { 'content-type': 'application/json', 'retry-after': until, 'x-ratelimit-type': 'Daily-limit', 'x-ratelimit-category': 'Heavy' }
    })
  }
  const d = createZoomConnector(settings(fake), { log: quiet, fetch: daily }, { retry: { baseDelayMs: 5, attempts: 5 } })
  const started = Date.now()
  const e = await drain(d.collect!(ctx(ADA))).catch((x: unknown) => x) as { retryAfterMs?: number }
  t.match(e, { code: 'DSR_CONNECTOR_RATE_LIMITED', retryable: true })
  t.ok(e.retryAfterMs! > 3_500_000 && e.retryAfterMs! <= 3_600_000, 'retryAfterMs from the timestamp')
  t.ok(Date.now() - started < 5000, 'thrown at once, not waited for')
})

t.test('zoom: health is an authenticated call', async (t) => {
  const fake = await startZoomFake()
  t.teardown(() => fake.close())
  const c = createZoomConnector(settings(fake), deps)
  t.match(await c.health({ signal: AbortSignal.timeout(2000) }), { status: 'ok' })
  t.match(fake.state.calls.at(-1), { path: '/v2/users/me/webinars', query: { page_size: '1' } })
})
