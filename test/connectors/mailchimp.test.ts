import t from 'tap'
import { createMailchimpConnector, mailchimpBaseUrl, mailchimpConnector, subscriberHash, type MailchimpConfig } from '../../connectors/mailchimp/index.js'
import { ConnectorError, type CollectedItem, type SubjectIdentity } from '../../connectors/types.js'
import { md5, startMailchimpFake, type MailchimpFake } from '../fakes/mailchimp.js'
import { connectorContract } from './contract.js'
import { ctx, drain, quiet } from './support.js'

const deps = { log: quiet, fetch: globalThis.fetch }
const ADA = { email: 'ada@example.com' }
const GRACE = { email: 'grace@example.com' }
const fastRetry = { retry: { baseDelayMs: 5, attempts: 8 } }

const settings = (fake: MailchimpFake, extra: Partial<MailchimpConfig> = {}): MailchimpConfig =>
  ({ base_url: fake.baseUrl, api_key: fake.apiKey, max_connections: 10, page_size: 2, ...extra })

const belongsTo = (item: CollectedItem, who: SubjectIdentity) => item.type === 'record' && who.email !== undefined &&
  (String(item.data.email_address ?? '').toLowerCase() === who.email || item.data.member_id === md5(who.email))

connectorContract(t, 'mailchimp', async () => {
  const fake = await startMailchimpFake()
  return {
    connector: createMailchimpConnector(settings(fake), deps, fastRetry),
    capabilities: mailchimpConnector.capabilities,
    streams: mailchimpConnector.streams,
    subject: ADA,
    other: GRACE,
    belongsTo,
    optOut: {
      // Unsubscribed memberships of the person, across audiences, as the fake holds them.
      async optedOutOf (who) {
        const hash = md5((who.email ?? '').toLowerCase())
        return [...fake.state.lists.values()].filter((l) => l.members.get(hash)?.status === 'unsubscribed').length
      }
    },
    cleanup: () => fake.close()
  }
})

t.test('mailchimp: settings', async (t) => {
  t.equal(mailchimpBaseUrl({ api_key: '0123abcd-us6' }), 'https://us6.api.mailchimp.com/3.0', 'data centre from the key suffix')
  t.equal(mailchimpBaseUrl({ api_key: '0123abcd-us6', base_url: 'https://proxy.example/3.0/' }), 'https://proxy.example/3.0')
  t.throws(() => mailchimpBaseUrl({ api_key: 'nodc' }), { code: 'DSR_CONNECTOR_CONFIG' })
  t.same(mailchimpConnector.secretFields, ['api_key'])
  t.ok(mailchimpConnector.capabilities.includes('opt_out'))
  t.equal(subscriberHash(' Ada@Example.COM '), md5('ada@example.com'), 'hash of the trimmed, lower-cased address')
})

t.test('mailchimp: collect pages every list to the end, by subscriber hash', async (t) => {
  const fake = await startMailchimpFake()
  t.teardown(() => fake.close())
  const c = createMailchimpConnector(settings(fake), deps, fastRetry)
  const items = await drain(c.collect!(ctx(ADA)))
  const by = (s: string) => items.filter((i) => i.stream === s)
  t.equal(by('members').length, 3, 'member of three audiences (incl. a pending and a transactional one)')
  t.equal(by('tags').length, 9, 'tags, paged 2 at a time')
  t.equal(by('activity').length, 6, 'the activity feed paged to its end (5 + 1)')
  t.equal(new Set(items.map((i) => `${i.stream}/${i.key}`)).size, items.length, 'keys are unique per stream')
  const listOffsets = fake.state.calls.filter((c) => c.path === '/3.0/lists').map((c) => c.query.offset)
  t.same(listOffsets, ['0', '2', '4'], 'audiences listed with count/offset until total_items')
  const memberCalls = fake.state.calls.filter((c) => c.path.includes('/members/'))
  t.ok(memberCalls.length > 0)
  for (const call of memberCalls) {
    t.ok(call.path.includes(`/members/${md5('ada@example.com')}`), 'members are addressed by the MD5 of the lower-cased e-mail')
    t.notMatch(call.path + JSON.stringify(call.query), /@|example/, 'the e-mail itself never goes over the wire')
  }
  const feedOffsets = fake.state.calls.filter((c) => c.path.endsWith('/aud00001/members/' + md5('ada@example.com') + '/activity-feed')).map((c) => c.query.offset)
  t.same(feedOffsets, ['0', '2', '4'])
  const first = by('members')[0]
  t.ok(first?.type === 'record' && !('_links' in first.data), 'hypermedia links are dropped')
})

t.test('mailchimp: erase deletes permanently; re-adding the address is then refused with 400', async (t) => {
  const fake = await startMailchimpFake()
  t.teardown(() => fake.close())
  const c = createMailchimpConnector(settings(fake), deps, fastRetry)
  const out = await drain(c.erase!(ctx(ADA)))
  t.same(out.find((o) => o.stream === 'members'), { status: 'erased', stream: 'members', count: 3 })
  t.equal(fake.state.calls.filter((c) => c.method === 'POST' && c.path.endsWith('/actions/delete-permanent')).length, 3)
  t.equal(fake.state.calls.filter((c) => c.method === 'DELETE').length, 0, 'never the reversible archive')
  for (const l of fake.state.lists.values()) t.notOk(l.members.has(md5('ada@example.com')), `gone from ${l.id}`)
  t.equal(fake.state.lists.get('aud00001')!.members.size, 1, 'Grace stays')

  const auth = `Basic ${Buffer.from(`x:${fake.apiKey}`).toString('base64')}`
  const put = await fetch(`${fake.baseUrl}/lists/aud00001/members/${md5('ada@example.com')}`, {
    method: 'PUT',
    headers: { authorization: auth, 'content-type': 'application/json' },
    body: JSON.stringify({ email_address: 'ada@example.com', status_if_new: 'subscribed' })
  })
  t.equal(put.status, 400)
  t.match(put.headers.get('content-type'), /problem\+json/)
  t.match(await put.json(), { title: 'Forgotten Email Not Subscribed', status: 400 })
  const post = await fetch(`${fake.baseUrl}/lists/aud00003/members`, {
    method: 'POST',
    headers: { authorization: auth, 'content-type': 'application/json' },
    body: JSON.stringify({ email_address: 'ada@example.com', status: 'subscribed' })
  })
  t.equal(post.status, 400, 'POST re-add is refused too')

  const again = await drain(c.erase!(ctx(ADA)))
  t.ok(again.every((o) => o.status === 'not_found'), 'a re-run finds nothing')
})

t.test('mailchimp: opt-out PATCHes status unsubscribed and never deletes', async (t) => {
  const fake = await startMailchimpFake()
  t.teardown(() => fake.close())
  const c = createMailchimpConnector(settings(fake), deps, fastRetry)
  t.same(await drain(c.optOut!({ ...ctx(ADA), purposes: ['partner_sharing'] })), [
    { status: 'not_supported', stream: 'members', purposes: ['partner_sharing'], reason: 'Mailchimp records only an unsubscription from marketing: stop the other purposes where the audience is shared or analysed' }
  ], 'a purpose Mailchimp cannot stop is reported, and nothing changes')
  t.equal(fake.state.calls.filter((c) => c.method !== 'GET').length, 0, 'no write for a purpose it cannot stop')
  t.same(await drain(c.optOut!({ ...ctx(ADA), purposes: ['marketing', 'profiling'] })), [
    { status: 'opted_out', stream: 'members', count: 2, purposes: ['marketing'] },
    { status: 'not_supported', stream: 'members', purposes: ['profiling'], reason: 'Mailchimp records only an unsubscription from marketing: stop the other purposes where the audience is shared or analysed' }
  ])
  const h = md5('ada@example.com')
  t.equal(fake.state.lists.get('aud00001')!.members.get(h)?.status, 'unsubscribed')
  t.equal(fake.state.lists.get('aud00003')!.members.get(h)?.status, 'unsubscribed', 'pending becomes unsubscribed')
  t.equal(fake.state.lists.get('aud00005')!.members.get(h)?.status, 'transactional', 'transactional contact untouched: transactional mail keeps working')
  const writes = fake.state.calls.filter((c) => c.method !== 'GET')
  t.ok(writes.length === 2 && writes.every((w) => w.method === 'PATCH'), 'only PATCHes')
  t.same(await drain(c.optOut!({ ...ctx(ADA), purposes: ['marketing'] })), [{ status: 'opted_out', stream: 'members', count: 0, purposes: ['marketing'] }], 'idempotent')
  t.same(await drain(c.optOut!({ ...ctx({ email: 'nobody@example.invalid' }), purposes: ['marketing'] })), [{ status: 'not_found', stream: 'members' }])
})

t.test('mailchimp: errors are mapped from problem+json, without identifiers', async (t) => {
  const fake = await startMailchimpFake()
  t.teardown(() => fake.close())
  const bad = createMailchimpConnector(settings(fake, { api_key: 'wrong-us6' }), deps, fastRetry)
  const err = await drain(bad.collect!(ctx(ADA))).catch((e: unknown) => e)
  t.match(err, { code: 'DSR_CONNECTOR_AUTH', retryable: false, message: /API Key Invalid/ })
  t.equal((await bad.health({ signal: AbortSignal.timeout(2000) })).status, 'down')

  const c = createMailchimpConnector(settings(fake), deps, { retry: { baseDelayMs: 5, attempts: 3 } })
  fake.faults.failStatus = { status: 429, times: 2 }
  t.equal((await drain(c.collect!(ctx(ADA)))).filter((i) => i.stream === 'members').length, 3, 'two 429s are retried')
  fake.faults.failStatus = { status: 429, times: 5 }
  const limited = await drain(c.collect!(ctx(ADA))).catch((e: unknown) => e)
  t.ok(limited instanceof ConnectorError)
  t.match(limited, { code: 'DSR_CONNECTOR_RATE_LIMITED', retryable: true, message: /TooManyRequests/ })
  fake.faults.failStatus = { status: 503, times: 5 }
  const down = await drain(c.erase!(ctx(ADA))).catch((e: unknown) => e)
  t.match(down, { code: 'DSR_CONNECTOR_UNAVAILABLE', retryable: true })
  t.notMatch((down as Error).message, /ada|example|[0-9a-f]{32}/, 'no e-mail or hash in the message')
  fake.faults.failStatus = null
})

t.test('mailchimp: at most max_connections at once; 429s under fail429Ratio 0.5 are ridden out', async (t) => {
  const seed = Array.from({ length: 12 }, (_, i) => ({
    id: `aud${String(i).padStart(5, '0')}`,
    name: `Audience ${i}`,
    members: [{ email: 'ada@example.com', status: 'subscribed' as const, fullName: 'Ada Lovelace', tags: ['x'], activity: [] }]
  }))
  const fake = await startMailchimpFake({ maxConnections: 3, seed })
  t.teardown(() => fake.close())
  fake.faults.latencyMs = 20
  const c = createMailchimpConnector(settings(fake, { max_connections: 3, page_size: 12 }), deps, fastRetry)
  const baseline = await drain(c.collect!(ctx(ADA)))
  t.equal(baseline.filter((i) => i.stream === 'members').length, 12)
  t.equal(fake.state.violations, 0, 'never more than 3 simultaneous connections')
  t.equal(fake.state.maxInFlight, 3, 'and the lookups do run in parallel')

  fake.faults.fail429Ratio = 0.5
  fake.faults.latencyMs = 0
  let items: CollectedItem[] | undefined
  for (let run = 0; run < 10 && !items; run++) {
    // The engine would re-run a failed (retryable) task; do the same.
    items = await drain(c.collect!(ctx(ADA))).catch((e: unknown) => { t.match(e, { retryable: true }); return undefined })
  }
  t.ok(items, 'collect eventually succeeds')
  t.same(items?.map((i) => i.key).sort(), baseline.map((i) => i.key).sort(), 'with the same result')
  t.equal(fake.state.violations, 0, 'without ever exceeding the connection limit')
})

t.test('mailchimp: health pings', async (t) => {
  const fake = await startMailchimpFake()
  t.teardown(() => fake.close())
  const c = createMailchimpConnector(settings(fake), deps)
  t.match(await c.health({ signal: AbortSignal.timeout(2000) }), { status: 'ok' })
  t.equal(fake.state.calls.at(-1)?.path, '/3.0/ping')
  fake.faults.failStatus = { status: 500, times: 1 }
  t.match(await c.health({ signal: AbortSignal.timeout(2000) }), { status: 'down', retryable: true })
})
