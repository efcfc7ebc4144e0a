import t, { type Test } from 'tap'
import { HUBSPOT_RECTIFY_FIELDS, HUBSPOT_STREAMS, HubspotRectifyErrorCodes, createHubspotConnector, hubspotConnector, hubspotRetryAfter, type HubspotConfig } from '../../connectors/hubspot/index.js'
import { refusedProperties } from '../../connectors/hubspot/rectify.js'
import { KEPT_REASON } from '../../connectors/hubspot/erase.js'
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
    rectify: {
      changes: { last_name: 'Contract-Rectified' },
      // Contacts holding the person's address (primary or additional) whose last name is the new one, as the fake holds them.
      async holding (who) {
        const email = (who.email ?? '').toLowerCase()
        return [...fake.state.contacts.values()].filter((c) => c.properties.lastname === 'Contract-Rectified' &&
          [c.properties.email ?? '', ...(c.properties.hs_additional_emails ?? '').split(';')].some((e) => e.toLowerCase() === email)).length
      }
    },
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
  t.same(await drain(connector.erase!(ctx({ email: 'ada@example.com' }))), [
    { status: 'erased', stream: 'contacts', count: 2 },
    { status: 'retained', stream: 'companies', count: 1, reason: KEPT_REASON },
    { status: 'retained', stream: 'deals', count: 2, reason: KEPT_REASON },
    { status: 'retained', stream: 'tickets', count: 1, reason: KEPT_REASON }
  ], 'the company, both deals (one shared by her two contacts) and the ticket stay, reported as kept')
  t.ok(fake.state.objects.deals!.has('301') && !fake.state.associations.has('101'), 'kept deals are no longer linked to her')
  t.notOk(fake.state.contacts.has('101')); t.notOk(fake.state.contacts.has('102'))
  t.notOk(fake.state.objects.notes!.has('401'), 'her activity went with the contact')
  t.ok(fake.state.contacts.has('103'), 'Grace stays')
  t.notOk(fake.state.blocklist.has('ada@example.com'), 'a known contact is deleted, not blocklisted')

  const blocking = createHubspotConnector(configFor(fake, { blocklist_unknown: true }), { fetch, log: quiet }, FAST)
  t.same(await drain(blocking.erase!(ctx({ email: 'ada@example.com' }))), [{ status: 'not_found', stream: 'contacts' }])
  t.ok(fake.state.blocklist.has('ada@example.com'), 'gdpr-delete of an unknown address blocklists it')
  const recreate = await fetch(`${fake.url}/crm/v3/objects/contacts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${fake.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ properties: { email: 'ada@example.com' } })
  })
  t.equal(recreate.status, 400, 'HubSpot refuses to re-create a blocklisted address')
})

interface Sent { method: string, path: string, query: string, body: unknown }
/** The connector over a fetch that records every call (method, path, query, parsed JSON body). */
async function spied (t: Test, opts: HubspotFakeOptions = {}) {
  const fake = await startHubspotFake(opts)
  t.teardown(fake.close)
  const sent: Sent[] = []
  const spy: typeof fetch = async (input, init) => {
    const url = new URL(String(input))
    sent.push({ method: init?.method ?? 'GET', path: url.pathname, query: url.search, body: typeof init?.body === 'string' ? JSON.parse(init.body) : undefined })
    return fetch(input, init)
  }
  return { fake, sent, connector: createHubspotConnector(configFor(fake), { fetch: spy, log: quiet }, FAST) }
}
const patches = (sent: Sent[]) => sent.filter((s) => s.method === 'PATCH').map((s) => ({ path: s.path, body: s.body }))
const rectify = (connector: ReturnType<typeof createHubspotConnector>, email: string, changes: Record<string, string>) =>
  drain(connector.rectify!({ ...ctx({ email }), changes }))
const failure = (p: Promise<unknown>) => p.then(() => { throw new Error('expected a failure') }, (e: unknown) => e as Error & { code: string, retryable: boolean })

t.test('hubspot: rectify is declared, and every mapped property is one HubSpot has and lets us write', async (t) => {
  t.ok(hubspotConnector.capabilities.includes('rectify'), 'rectify is a declared capability')
  const fake = await startHubspotFake()
  t.teardown(fake.close)
  const res = await fetch(`${fake.url}/crm/v3/properties/contacts`, { headers: { authorization: `Bearer ${fake.token}` } })
  const props = new Map(((await res.json()) as { results: Array<{ name: string, modificationMetadata: { readOnlyValue: boolean } }> }).results
    .map((p) => [p.name, p.modificationMetadata.readOnlyValue]))
  for (const [field, property] of Object.entries(HUBSPOT_RECTIFY_FIELDS)) {
    t.equal(props.get(property), false, `${field} → ${property}: a writable HubSpot property`)
  }
})

t.test('hubspot: rectify maps the fields and PATCHes exactly what HubSpot expects; the fake keeps the history', async (t) => {
  const { fake, sent, connector } = await spied(t)
  const changes = {
    first_name: 'Grace Brewster',
    last_name: 'Murray Hopper',
    phone: '+1 202 555 0143',
    mobile_phone: '+1 202 555 0199',
    street_address: '1 Navy Yard',
    city: 'Arlington',
    state: 'VA',
    postal_code: '22202',
    country: 'US',
    company: 'US Navy',
    job_title: 'Rear Admiral'
  }
  t.strictSame(await rectify(connector, 'Grace@Example.com', changes), [{ status: 'rectified', stream: 'contacts', count: 1 }])
  t.strictSame(patches(sent), [{
    path: '/crm/v3/objects/contacts/103',
    body: {
      properties: {
        firstname: 'Grace Brewster',
        lastname: 'Murray Hopper',
        phone: '+1 202 555 0143',
        mobilephone: '+1 202 555 0199',
        address: '1 Navy Yard',
        city: 'Arlington',
        state: 'VA',
        zip: '22202',
        country: 'US',
        company: 'US Navy',
        jobtitle: 'Rear Admiral'
      }
    }
  }], 'one PATCH of the contact by id, body {properties: {name: string}}')
  const grace = fake.state.contacts.get('103')!
  t.match(grace.properties, { email: 'grace@example.com', firstname: 'Grace Brewster', lastname: 'Murray Hopper', zip: '22202', jobtitle: 'Rear Admiral' })
  t.strictSame(grace.history.lastname!.map((v) => v.value), ['Murray Hopper', 'Hopper'], 'the new value is the latest version, the old one kept in history')
  t.equal(grace.history.lastname![0]!.sourceType, 'INTEGRATION')
  t.ok(Date.parse(grace.updatedAt) > Date.parse('2025-01-10T09:00:00.000Z'), 'updatedAt moved on')
  t.equal(grace.history.email!.length, 1, 'the e-mail was not touched')
  t.ok(['101', '102', '104'].every((id) => fake.state.contacts.get(id)!.updatedAt === '2025-01-10T09:00:00.000Z'), 'nobody else changed')

  const again = await rectify(connector, 'grace@example.com', { last_name: 'Murray Hopper', lastname: 'Murray Hopper' })
  t.strictSame(again, [{ status: 'rectified', stream: 'contacts', count: 1 }], 'idempotent: a re-run sets the same values (HubSpot names accepted too)')
  t.equal(grace.history.lastname!.length, 2, 'setting the same value again makes no new version')
  t.equal(fake.state.violations, 0)
})

t.test('hubspot: rectify names the fields HubSpot has no property for, instead of dropping them', async (t) => {
  const { fake, sent, connector } = await spied(t)
  t.strictSame(await rectify(connector, 'grace@example.com', { Last_Name: 'Murray Hopper', loyalty_tier: 'gold', hs_lead_status: 'OPEN', constructor: 'x' }), [{
    status: 'rectified',
    stream: 'contacts',
    count: 1,
    reason: 'no hubspot contact property for field(s) loyalty_tier, hs_lead_status, constructor: left unchanged'
  }])
  t.strictSame(patches(sent).map((p) => p.body), [{ properties: { lastname: 'Murray Hopper' } }], 'only mapped properties are sent; HubSpot internals never')
  sent.length = 0
  const calls = fake.state.calls
  t.strictSame(await rectify(connector, 'grace@example.com', { loyalty_tier: 'gold' }), [{
    status: 'rectified', stream: 'contacts', count: 0, reason: 'no hubspot contact property for field(s) loyalty_tier: left unchanged'
  }], 'nothing HubSpot holds: count 0, with the reason')
  t.equal(fake.state.calls, calls, 'and no call at all')
})

t.test('hubspot: rectify of someone HubSpot does not hold is not_found, with no PATCH', async (t) => {
  const { fake, sent, connector } = await spied(t)
  t.strictSame(await rectify(connector, 'nobody-at-all@example.invalid', { last_name: 'X', email: 'new@example.org' }), [{ status: 'not_found', stream: 'contacts' }])
  t.strictSame(await drain(connector.rectify!({ ...ctx({ phone: '+447700900001' }), changes: { last_name: 'X' } })), [{ status: 'not_found', stream: 'contacts' }], 'no e-mail to match on')
  t.equal(patches(sent).length, 0)
  t.notOk(fake.state.callsByRoute['PATCH /crm/v3/objects/contacts/{id}'])
})

t.test('hubspot: rectifying the e-mail replaces the primary address and keeps the person findable by the new one', async (t) => {
  const { fake, sent, connector } = await spied(t)
  t.strictSame(await rectify(connector, 'grace@example.com', { email: ' Grace.Hopper@Navy.Example ', last_name: 'Murray Hopper' }),
    [{ status: 'rectified', stream: 'contacts', count: 1 }])
  t.strictSame(patches(sent), [{ path: '/crm/v3/objects/contacts/103', body: { properties: { lastname: 'Murray Hopper', email: 'grace.hopper@navy.example' } } }])
  t.ok(sent.some((s) => s.method === 'GET' && s.path === '/crm/v3/objects/contacts/103' && /hs_additional_emails/.test(s.query)), 'read back to check the addresses')
  const grace = fake.state.contacts.get('103')!
  t.strictSame(grace.history.email!.map((v) => v.value), ['grace.hopper@navy.example', 'grace@example.com'])
  const found = await drain(connector.collect!(ctx({ email: 'grace.hopper@navy.example' })))
  t.ok(found.some((i) => i.key === 'contact:103'), 'collect by the new address finds her contact')
  t.ok(found.some((i) => i.key === 'deals:303'), '…and what is associated with it')
  t.same(await drain(connector.collect!(ctx({ email: 'grace@example.com' }))), [], 'the old address finds nothing')
  sent.length = 0
  t.strictSame(await rectify(connector, 'grace@example.com', { email: 'grace.hopper@navy.example', last_name: 'Murray Hopper' }),
    [{ status: 'not_found', stream: 'contacts' }],
    'a re-run by the old address finds nothing more to correct')
  t.equal(patches(sent).length, 0)
})

t.test('hubspot: an address held as an additional e-mail is not overwritten into the primary; the task fails, coded', async (t) => {
  const { fake, sent, connector } = await spied(t)
  const err = await failure(rectify(connector, 'ada@example.com', { email: 'ada@analytical.example', last_name: 'King' }))
  t.match(err, { code: HubspotRectifyErrorCodes.AdditionalEmail, retryable: false })
  t.notMatch(err.message, /ada|example/i, 'names no address')
  t.strictSame(patches(sent), [
    { path: '/crm/v3/objects/contacts/101', body: { properties: { lastname: 'King', email: 'ada@analytical.example' } } },
    { path: '/crm/v3/objects/contacts/102', body: { properties: { lastname: 'King' } } }
  ], 'everything else is corrected first; the other contact\'s own primary address is left alone')
  t.equal(fake.state.contacts.get('101')!.properties.email, 'ada@analytical.example')
  t.equal(fake.state.contacts.get('102')!.properties.email, 'ada.lovelace@work.example', 'her work address stays primary')
  t.equal(fake.state.contacts.get('102')!.properties.lastname, 'King')

  // A person replaces the additional address in HubSpot (the API cannot); a retry then finds nothing left.
  fake.state.contacts.get('102')!.properties.hs_additional_emails = 'ada@analytical.example;countess@old.example'
  t.strictSame(await rectify(connector, 'ada@example.com', { email: 'ada@analytical.example', last_name: 'King' }), [{ status: 'not_found', stream: 'contacts' }])
  const keys = (await drain(connector.collect!(ctx({ email: 'ada@analytical.example' })))).map((i) => i.key)
  t.ok(keys.includes('contact:101') && keys.includes('contact:102'), 'both her contacts are found by the new address')
})

t.test('hubspot: values HubSpot refuses are permanent, coded failures that quote no value', async (t) => {
  const { fake, sent, connector } = await spied(t)
  const invalid = await failure(rectify(connector, 'grace@example.com', { email: 'grace@navy', last_name: 'Murray Hopper' }))
  t.match(invalid, { code: HubspotRectifyErrorCodes.ValueRejected, retryable: false })
  t.match(invalid.message, /VALIDATION_ERROR/)
  t.match(invalid.message, /email: INVALID_EMAIL/, 'names the field and HubSpot\'s reason')
  t.notMatch(invalid.message, /grace|navy|Hopper/i, 'but not the value')
  t.equal(patches(sent).length, 1, 'sent once: a 400 is not retried')
  t.equal(fake.state.contacts.get('103')!.properties.lastname, 'Hopper', 'HubSpot applies nothing of a refused PATCH')

  const conflict = await failure(rectify(connector, 'grace@example.com', { email: 'alan@example.com' }))
  t.match(conflict, { code: HubspotRectifyErrorCodes.EmailConflict, retryable: false })
  t.notMatch(conflict.message, /alan|example|104/i)
  t.equal(fake.state.contacts.get('103')!.properties.email, 'grace@example.com')

  sent.length = 0
  for (const [changes, what] of [
    [{ email: '' }, 'the e-mail cleared'],
    [{ email: 'grace@navy.example;alan@example.com' }, 'two addresses'],
    [{ last_name: 'Hopper', lastname: 'Murray Hopper' }, 'two fields, one property, different values']
  ] as const) {
    t.match(await failure(rectify(connector, 'grace@example.com', changes)), { code: HubspotRectifyErrorCodes.ValueRejected, retryable: false }, `refused before any call: ${what}`)
  }
  t.equal(sent.length, 0, 'no call was made for them')
})

t.test('hubspot fake: PATCH refuses unknown and read-only properties the way HubSpot does', async (t) => {
  const fake = await startHubspotFake()
  t.teardown(fake.close)
  const res = await fetch(`${fake.url}/crm/v3/objects/contacts/102`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${fake.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ properties: { hs_additional_emails: 'x@example.com', favourite_food: 'cake', lastname: 'Byron' } })
  })
  t.equal(res.status, 400)
  const body = await res.json() as { status: string, category: string, message: string, correlationId: string }
  t.match(body, { status: 'error', category: 'VALIDATION_ERROR', correlationId: String })
  t.strictSame(refusedProperties(body), [{ name: 'hs_additional_emails', error: 'READ_ONLY_VALUE' }, { name: 'favourite_food', error: 'PROPERTY_DOESNT_EXIST' }])
  t.equal(fake.state.contacts.get('102')!.properties.lastname, 'King', 'nothing applied')
  t.strictSame(refusedProperties({ category: 'VALIDATION_ERROR', message: 'x', errors: [{ code: 'INVALID_OPTION', context: { propertyName: ['country'] } }] }),
    [{ name: 'country', error: 'INVALID_OPTION' }], 'the errors[] form is read too')
})

t.test('hubspot: 429 backoff follows policyName; retried until it answers', async (t) => {
  const res = (policyName: string, interval?: string) => ({ status: 429, headers: new Headers(interval ? { 'x-hubspot-ratelimit-interval-milliseconds': interval } : {}), body: { policyName } })
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
