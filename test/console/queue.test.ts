import t from 'tap'
import { auth, build, registryOf, requestBody } from '../helper.js'
import { ConsoleClient, consoleKeys, OPERATOR_KEY } from './session.js'

/** The queue: open requests only, overdue first, then children, then by effective deadline; paged without skipping or repeating; filtered. */
const DAY = 86_400_000
const registry = await registryOf([{ id: 'paper', driver: 'manual', display_name: 'Paper archive' }])
const app = await build(t, { registry, apiKeys: consoleKeys() })
const create = async (email: string, over: Record<string, unknown> = {}) =>
  (await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody({ subject: { email }, ...over }) })).json<{ id: string }>().id

const overdue = await create('overdue@example.com', { received_at: new Date(Date.now() - 40 * DAY).toISOString() })
const adultCcpa = await create('adult.ccpa@example.com', { regime: 'ccpa' })
const childCcpa = await create('child.ccpa@example.com', { regime: 'ccpa', child: true })
const adultGdpr = await create('adult.gdpr@example.com', { verification: { method: 'account_login' } })
const childGdpr = await create('child.gdpr@example.com', { child: true, type: 'erasure' })
const cancelled = await create('cancelled@example.com')
await app.inject({ method: 'POST', url: `/v1/requests/${cancelled}/cancel`, headers: auth(), payload: { reason: 'Withdrawn' } })

const c = new ConsoleClient(app)
await c.signIn(OPERATOR_KEY)
const idsOf = (html: string) => [...html.matchAll(/<tr data-request="([0-9a-f-]{36})"/g)].map((m) => m[1]!)

t.test('overdue first, then children, then by effective deadline; closed requests are not in the queue', async (t) => {
  const page = await c.get('/console')
  t.strictSame(idsOf(page.body), [overdue, childGdpr, childCcpa, adultGdpr, adultCcpa])
  t.match(page.body, /overdue \(\d+ d\)/, 'days overdue')
})

t.test('paged two at a time by following "Next page": the same order, nothing skipped or repeated', async (t) => {
  const seen: string[] = []
  let url: string | undefined = '/console?limit=2'
  while (url) {
    const page = await c.get(url)
    t.equal(page.statusCode, 200)
    seen.push(...idsOf(page.body))
    url = /href="([^"]+)" rel="next"/.exec(page.body)?.[1]?.replaceAll('&amp;', '&')
  }
  t.strictSame(seen, [overdue, childGdpr, childCcpa, adultGdpr, adultCcpa])
})

t.test('filters: type, regime, status, connector', async (t) => {
  t.strictSame(idsOf((await c.get('/console?type=erasure')).body), [childGdpr])
  t.strictSame(idsOf((await c.get('/console?regime=ccpa')).body), [childCcpa, adultCcpa])
  t.strictSame(idsOf((await c.get('/console?status=in_progress&status=ready')).body), [adultGdpr])
  t.strictSame(idsOf((await c.get('/console?connector=paper')).body), [adultGdpr], 'only the request with a task for the connector')
  const empty = await c.get('/console?type=&regime=&connector=')
  t.equal(idsOf(empty.body).length, 5, 'an empty choice is no filter')
})
