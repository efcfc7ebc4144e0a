import t, { type Test } from 'tap'
import { HUBSPOT_STREAMS, createHubspotConnector, hubspotConnector, hubspotRetryAfter, type HubspotConfig } from '../../connectors/hubspot/index.js'
import { Value } from 'typebox/value'
import { HubspotConfigSchema } from '../../connectors/hubspot/config.js'
import type { CollectedItem, ConnectorContext, SubjectIdentity } from '../../connectors/types.js'
import { startHubspotFake, type HubspotFake, type HubspotFakeOptions } from '../fakes/hubspot.js'
import { connectorContract } from './contract.js'

const quiet = { debug () {}, info () {}, warn () {}, error () {} }
const ctx = (subject: SubjectIdentity): ConnectorContext => ({ requestId: 'r-1', subject, signal: AbortSignal.timeout(30_000), log: quiet })
async function drain<T> (it: AsyncIterable<T>): Promise<T[]> { const out: T[] = []; for await (const x of it) out.push(x); return out }
const FAST = { retry: { attempts: 8, baseDelayMs: 5 }, backoff: { secondlyMs: 150, tenSecondlyMs: 150 } }

function configFor (fake: HubspotFake, over: Partial<HubspotConfig> = {}): HubspotConfig {
  return Value.Default(HubspotConfigSchema, { base_url: fake.url, token: fake.token, page_size: 1, association_page_size: 1, ...over }) as HubspotConfig
}
async function setup (t: Test, opts: HubspotFakeOptions = {}, over: Partial<HubspotConfig> = {}) {
  const fake = await startHubspotFake(opts)
  t.teardown(fake.close)
  return { fake, connector: createHubspotConnector(configFor(fake, over), { fetch, log: quiet }, FAST) }
}
const emailsOf = (item: CollectedItem): string[] => {
  if (item.type !== 'record' || item.stream !== 'contacts') return []
  const p = (item.data.properties ?? {}) as Record<string, string | null>
  return [p.email ?? '', ...(p.hs_additional_emails ?? '').split(';')].map((e) => e.toLowerCase()).filter(Boolean)
}

connectorContract(t, 'hubspot', async () => {
  const fake = await startHubspotFake()
  return {
    connector: createHubspotConnector(configFor(fake), { fetch, log: quiet }, FAST),
    capabilities: hubspotConnector.capabilities,
    streams: HUBSPOT_STREAMS,
    subject: { email: 'ada@example.com' },
    other: { email: 'grace@example.com' },
    belongsTo: (item, who) => emailsOf(item).includes((who.email ?? '').toLowerCase()),
    cleanup: fake.close
  }
})

t.test('hubspot: collect pages to the end, matches additional e-mails, keeps history and associations', async (t) => {
  const { fake, connector } = await setup(t)
  const items = await drain(connector.collect!(ctx({ email: 'ADA@example.com' })))
  const keys = items.map((i) => i.key).sort()
  t.same(keys, ['calls:601', 'companies:201', 'contact:101', 'contact:102', 'deals:301', 'deals:302', 'emails:501', 'meetings:701', 'notes:401', 'tickets:801'])
  t.ok(fake.state.callsByRoute['POST /crm/v3/objects/contacts/search']! >= 2, 'search followed paging.next.after (page size 1)')
  const ada = items.find((i) => i.key === 'contact:101')
  t.ok(ada?.type === 'record')
  if (ada?.type === 'record') {
    const history = (ada.data.propertiesWithHistory as Record<string, Array<{ value: string }>>).firstname!
    t.same(history.map((h) => h.value), ['Ada', 'Augusta'], 'property history is present')
  }
  const work = items.find((i) => i.key === 'contact:102')
  t.ok(work && emailsOf(work).includes('ada@example.com'), 'the contact holding her address as an additional e-mail is found')
  t.notOk(items.some((i) => i.key === 'deals:303' || i.key === 'notes:402'), 'nothing of Grace')
  t.equal(fake.state.violations, 0)
})

t.test('hubspot: erase GDPR-deletes by e-mail and by id, then blocklisting of unknown addresses', async (t) => {
  const { fake, connector } = await setup(t)
  t.same(await drain(connector.erase!(ctx({ email: 'ada@example.com' }))), [{ status: 'erased', stream: 'contacts', count: 2 }])
  t.notOk(fake.state.contacts.has('101')); t.notOk(fake.state.contacts.has('102'))
  t.notOk(fake.state.objects.notes!.has('401'), 'her activity went with the contact')
  t.ok(fake.state.contacts.has('103'), 'Grace stays')
  t.notOk(fake.state.blocklist.has('ada@example.com'), 'a known contact is deleted, not blocklisted')

  const blocking = createHubspotConnector(configFor(fake, { blocklist_unknown: true }), { fetch, log: quiet }, FAST)
  t.same(await drain(blocking.erase!(ctx({ email: 'ada@example.com' }))), [{ status: 'not_found', stream: 'contacts' }])
  t.ok(fake.state.blocklist.has('ada@example.com'), 'gdpr-delete of an unknown address blocklists it')
  const recreate = await fetch(`${fake.url}/crm/v3/objects/contacts`, {
    method: 'POST', headers: { authorization: `Bearer ${fake.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ properties: { email: 'ada@example.com' } })
  })
  t.equal(recreate.status, 400, 'HubSpot refuses to re-create a blocklisted address')
})

t.test('hubspot: rectify patches every contact of the subject', async (t) => {
  const { fake, connector } = await setup(t)
  t.same(await drain(connector.rectify!({ ...ctx({ email: 'grace@example.com' }), changes: { lastname: 'Murray Hopper' } })), [{ status: 'rectified', stream: 'contacts', count: 1 }])
  t.equal(fake.state.contacts.get('103')!.properties.lastname, 'Murray Hopper')
})

t.test('hubspot: 429 backoff follows policyName; retried until it answers', async (t) => {
  const res = (policyName: string, interval?: string) => ({ status: 429, headers: new Headers(interval ? { 'x-hubspot-ratelimit-interval-milliseconds': interval } : {}) , body: { policyName } })
  t.equal(hubspotRetryAfter(res('SECONDLY')), 1000)
  t.equal(hubspotRetryAfter(res('TEN_SECONDLY_ROLLING', '10000')), 10_000)
  t.equal(hubspotRetryAfter(res('DAILY')), 3_600_000)

  const { fake, connector } = await setup(t)
  fake.state.faults.failStatus = { status: 503, times: 2 }
  t.ok((await drain(connector.collect!(ctx({ email: 'grace@example.com' })))).length > 0, '5xx retried')
  let n = 0
  fake.state.faults.fail429Ratio = 1
  const started = Date.now()
  setTimeout(() => { fake.state.faults.fail429Ratio = 0 }, 500)
  n = (await drain(connector.collect!(ctx({ email: 'grace@example.com' })))).length
  t.ok(n > 0 && fake.state.injected429 > 0, 'a 429 without Retry-After is backed off and retried')
  t.ok(Date.now() - started >= 150, 'waited the policy interval')
})

t.test('hubspot: under fail429Ratio 0.5 a loop of collects succeeds without exceeding the limits', async (t) => {
  const { fake, connector } = await setup(t)
  fake.state.faults.fail429Ratio = 0.5
  let ok = 0
  for (let i = 0; i < 10 && ok < 2; i++) {
    try { if ((await drain(connector.collect!(ctx({ email: 'ada@example.com' })))).length === 10) ok++ } catch (err) { t.match(err, { retryable: true }) }
  }
  t.equal(ok, 2, 'collects eventually succeed')
  t.ok(fake.state.injected429 > 0)
  t.equal(fake.state.violations, 0, 'the search limit (4/s) and burst limit were never exceeded')
})

t.test('hubspot: errors name no identifiers; auth failure is permanent; health', async (t) => {
  const fake = await startHubspotFake()
  t.teardown(fake.close)
  const bad = createHubspotConnector(configFor(fake, { token: 'wrong' }), { fetch, log: quiet }, FAST)
  const err = await drain(bad.collect!(ctx({ email: 'ada@example.com' }))).catch((e: unknown) => e) as Error & { code: string, retryable: boolean }
  t.match(err, { code: 'DSR_CONNECTOR_AUTH', retryable: false })
  t.notMatch(err.message, /ada|example/)
  t.match(await bad.health({ signal: AbortSignal.timeout(5000) }), { status: 'down', retryable: false })
  const down = createHubspotConnector(configFor(fake, { base_url: 'http://127.0.0.1:1' }), { fetch, log: quiet }, { retry: { attempts: 1 } })
  t.match(await down.health({ signal: AbortSignal.timeout(5000) }), { status: 'down', retryable: true })
})
