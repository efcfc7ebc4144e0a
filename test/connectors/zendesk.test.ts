import { Value } from 'typebox/value'
import t from 'tap'
import { ZENDESK_STREAMS, ZendeskConfigSchema, createZendeskConnector, zendeskConnector, type ZendeskConfig } from '../../connectors/zendesk/index.js'
import type { CollectedItem, ConnectorContext, SubjectIdentity } from '../../connectors/types.js'
import { ATTACHMENT_BYTES, startZendeskFake, type ZendeskFake } from '../fakes/zendesk.js'
import { connectorContract } from './contract.js'

const quiet = { debug () {}, info () {}, warn () {}, error () {} }
const ctx = (subject: SubjectIdentity): ConnectorContext => ({ requestId: 'r-1', subject, signal: AbortSignal.timeout(60_000), log: quiet })
async function drain<T> (it: AsyncIterable<T>): Promise<T[]> { const out: T[] = []; for await (const x of it) out.push(x); return out }
const FAST = { retry: { attempts: 8, baseDelayMs: 5 } }

function zendeskConfigFor (url: string, over: Partial<ZendeskConfig> = {}): ZendeskConfig {
  return Value.Default(ZendeskConfigSchema, { base_url: url, email: 'agent@helpdesk.example', api_token: 'zd-test-token', page_size: 1, ...over }) as ZendeskConfig
}
const make = (fake: ZendeskFake, over: Partial<ZendeskConfig> = {}) => createZendeskConnector(zendeskConfigFor(fake.url, over), { fetch, log: quiet }, FAST)
const userOf = (item: CollectedItem): number | undefined => {
  if (item.type !== 'record') return undefined
  const d = item.data as Record<string, unknown>
  return (item.stream === 'users' ? d.id : item.stream === 'identities' ? d.user_id : item.stream === 'tickets' ? d.requester_id : undefined) as number | undefined
}
const IDS: Record<string, number> = { 'ada@example.com': 11, 'grace@example.com': 12 }

connectorContract(t, 'zendesk', async () => {
  const fake = await startZendeskFake()
  return {
    connector: make(fake),
    capabilities: zendeskConnector.capabilities,
    streams: ZENDESK_STREAMS,
    subject: { email: 'ada@example.com' },
    other: { email: 'grace@example.com' },
    belongsTo: (item, who) => userOf(item) !== undefined && userOf(item) === IDS[who.email ?? ''],
    cleanup: fake.close
  }
})

t.test('zendesk: collect pages to the end, exact e-mail only, attachments streamed with the right bytes', async (t) => {
  const fake = await startZendeskFake()
  t.teardown(fake.close)
  const items = await drain(make(fake).collect!(ctx({ email: 'ada@example.com' })))
  const keys = items.map((i) => i.key)
  t.same(keys.filter((k) => k.startsWith('user:')), ['user:11'], 'ada.byron@example.com (a loose search hit) is not her')
  t.same(keys.filter((k) => k.startsWith('ticket:')).sort(), ['ticket:101', 'ticket:102', 'ticket:103'], 'requested tickets to the last page (page size 1)')
  t.same(keys.filter((k) => k.startsWith('identity:')).sort(), ['identity:110', 'identity:111'])
  t.same(keys.filter((k) => k.startsWith('comment:')).sort(), ['comment:1001', 'comment:1002', 'comment:1003', 'comment:1004'])
  const file = items.find((i) => i.key === 'attachment:5001')
  t.ok(file?.type === 'file')
  if (file?.type === 'file') {
    t.match(file, { name: 'engine.png', contentType: 'image/png' })
    const chunks: Buffer[] = []
    for await (const c of await file.open()) chunks.push(c as Buffer)
    t.ok(chunks.length > 1, 'arrives as a stream, in pieces')
    t.ok(Buffer.concat(chunks).equals(ATTACHMENT_BYTES), 'the right bytes')
  }
  t.equal(fake.state.violations, 0)
})

t.test('zendesk: erase deletes tickets, then soft-deletes, then permanently deletes the user', async (t) => {
  const fake = await startZendeskFake()
  t.teardown(fake.close)
  const c = make(fake)
  t.same(await drain(c.erase!(ctx({ email: 'ada@example.com' }))), [{ status: 'erased', stream: 'tickets', count: 3 }, { status: 'erased', stream: 'users', count: 1 }])
  t.same(fake.state.log, ['delete ticket 101', 'purge ticket 101', 'delete ticket 102', 'purge ticket 102', 'delete ticket 103', 'purge ticket 103', 'soft-delete user 11', 'purge user 11'])
  t.equal(fake.state.users.get(12)!.state, 'active')
  t.equal(fake.state.tickets.get(104)!.state, 'open')

  // A user soft-deleted earlier (an interrupted run, or an agent) is only purged.
  fake.state.users.get(12)!.state = 'soft_deleted'
  fake.state.log.length = 0
  t.same(await drain(c.erase!(ctx({ email: 'grace@example.com' }))), [{ status: 'not_found', stream: 'tickets' }, { status: 'erased', stream: 'users', count: 1 }])
  t.same(fake.state.log, ['purge user 12'])
  t.same(await drain(c.erase!(ctx({ email: 'nobody@example.com' }))), [{ status: 'not_found', stream: 'tickets' }, { status: 'not_found', stream: 'users' }])
})

t.test('zendesk: permanent deletion of an active user is refused by the vendor', async (t) => {
  const fake = await startZendeskFake()
  t.teardown(fake.close)
  const auth = `Basic ${Buffer.from('agent@helpdesk.example/token:zd-test-token').toString('base64')}`
  const res = await fetch(`${fake.url}/api/v2/deleted_users/13`, { method: 'DELETE', headers: { authorization: auth } })
  t.equal(res.status, 404)
  t.equal(fake.state.users.get(13)!.state, 'active')
})

t.test('zendesk: 429 Retry-After is honoured and the call retried', async (t) => {
  const fake = await startZendeskFake({ faultRetryAfterSeconds: 1 })
  t.teardown(fake.close)
  fake.state.faults.fail429Ratio = 1
  setTimeout(() => { fake.state.faults.fail429Ratio = 0 }, 200)
  const started = Date.now()
  t.ok((await drain(make(fake).collect!(ctx({ email: 'grace@example.com' })))).length > 0)
  t.ok(Date.now() - started >= 1000, 'waited the Retry-After second')
  const once = createZendeskConnector(zendeskConfigFor(fake.url), { fetch, log: quiet }, { retry: { attempts: 1 } })
  fake.state.faults.fail429Ratio = 1
  await t.rejects(drain(once.collect!(ctx({ email: 'grace@example.com' }))), { code: 'DSR_CONNECTOR_RATE_LIMITED', retryable: true, retryAfterMs: 1000 },
    'when out of attempts, the engine gets Retry-After')
  fake.state.faults.fail429Ratio = 0
  fake.state.faults.failStatus = { status: 503, times: 2 }
  t.ok((await drain(make(fake).collect!(ctx({ email: 'grace@example.com' })))).length > 0, '5xx retried')
})

t.test('zendesk: under fail429Ratio 0.5 a loop of collects succeeds with no limit violations', async (t) => {
  const fake = await startZendeskFake({ faultRetryAfterSeconds: 0 })
  t.teardown(fake.close)
  fake.state.faults.fail429Ratio = 0.5
  let ok = 0
  for (let i = 0; i < 20 && ok < 2; i++) {
    try { if ((await drain(make(fake).collect!(ctx({ email: 'ada@example.com' })))).length > 0) ok++ } catch (err) { t.match(err, { retryable: true }) }
  }
  t.equal(ok, 2)
  t.ok(fake.state.injected429 > 0)
  t.equal(fake.state.violations, 0)
})

t.test('zendesk: settings need an origin and credentials; errors name no identifiers', async (t) => {
  t.throws(() => zendeskConnector.create(Value.Default(ZendeskConfigSchema, { email: 'a@b.c', api_token: 'x' }) as ZendeskConfig, { fetch, log: quiet }), { code: 'DSR_CONNECTOR_CONFIG' })
  t.throws(() => zendeskConnector.create(Value.Default(ZendeskConfigSchema, { subdomain: 'acme' }) as ZendeskConfig, { fetch, log: quiet }), { code: 'DSR_CONNECTOR_CONFIG' })
  const fake = await startZendeskFake()
  t.teardown(fake.close)
  const bad = make(fake, { api_token: 'wrong' })
  const err = await drain(bad.collect!(ctx({ email: 'ada@example.com' }))).catch((e: unknown) => e) as Error
  t.match(err, { code: 'DSR_CONNECTOR_AUTH', retryable: false })
  t.notMatch(err.message, /ada|example|\/11/)
})
