import t from 'tap'
import { createMemoryConnector, memoryConnector, type MemoryConfig } from '../../connectors/memory/index.js'
import { connectorContract } from './contract.js'

const config: MemoryConfig = {
  streams: [
    {
      name: 'contacts',
      description: 'Contacts',
      categories: ['contact'],
      match: { email: 'email', phone: 'phone' },
      records: [{ id: 1, email: 'ada@example.com', phone: '+447700900001' }, { id: 2, email: 'grace@example.com' }]
    },
    {
      name: 'orders',
      description: 'Orders',
      categories: ['commercial'],
      match: { customer_id: 'customer' },
      records: [{ id: 10, customer: 'c-1', email: 'ada@example.com' }, { id: 11, customer: 'c-2', email: 'grace@example.com' }]
    }
  ]
}

connectorContract(t, 'memory', async () => ({
  connector: createMemoryConnector(structuredClone(config)),
  capabilities: memoryConnector.capabilitiesFor!(config),
  streams: memoryConnector.streamsFor!(config),
  subject: { email: 'ada@example.com', customer_id: 'c-1' },
  other: { email: 'grace@example.com', customer_id: 'c-2' },
  belongsTo: (item, who) => item.type === 'record' && item.data.email === who.email
}))

/** The same system, able to restrict (a flag on contacts, a hold on orders) and to opt people out of marketing. */
const restricting: MemoryConfig = {
  streams: [
    { ...config.streams[0]!, restrict: { field: 'restricted' }, opt_out: { field: 'marketing', value: 'no' } },
    { ...config.streams[1]!, restrict: { field: 'hold' } }
  ]
}

connectorContract(t, 'memory (restricting)', async () => {
  const connector = createMemoryConnector(structuredClone(restricting))
  return {
    connector,
    capabilities: memoryConnector.capabilitiesFor!(restricting),
    streams: memoryConnector.streamsFor!(restricting),
    subject: { email: 'ada@example.com', customer_id: 'c-1' },
    other: { email: 'grace@example.com', customer_id: 'c-2' },
    belongsTo: (item, who) => item.type === 'record' && item.data.email === who.email,
    async restrictedOf (who) {
      const contacts = connector.data.get('contacts')!.filter((r) => r.email === who.email && r.restricted === true)
      const orders = connector.data.get('orders')!.filter((r) => r.customer === who.customer_id && r.hold === true)
      return contacts.length + orders.length
    },
    optOut: {
      async optedOutOf (who) {
        return connector.data.get('contacts')!.filter((r) => r.email === who.email && r.marketing === 'no').length
      }
    }
  }
})

const quiet = { debug () {}, info () {}, warn () {}, error () {} }
const ctxOf = (subject: Record<string, string>) => ({ requestId: 'r', subject, signal: new AbortController().signal, log: quiet })
async function drain<T> (it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

t.test('memory: restrict and opt_out are capabilities only where a stream says which field to set', async (t) => {
  t.strictSame(memoryConnector.capabilities, ['collect', 'erase', 'restrict', 'opt_out'], 'all it may have')
  t.strictSame(memoryConnector.capabilitiesFor!(config), ['collect', 'erase'])
  t.strictSame(memoryConnector.capabilitiesFor!(restricting), ['collect', 'erase', 'restrict', 'opt_out'])
  const plain = createMemoryConnector(structuredClone(config))
  t.equal(plain.restrict, undefined)
  t.equal(plain.unrestrict, undefined)
  t.equal(plain.optOut, undefined)
})

t.test('memory: restrict, unrestrict and opt_out per stream, for the subject only', async (t) => {
  const c = createMemoryConnector(structuredClone(restricting))
  t.strictSame(await drain(c.restrict!(ctxOf({ email: 'ada@example.com' }))), [
    { status: 'restricted', stream: 'contacts', count: 1 },
    { status: 'not_found', stream: 'orders' }
  ], 'orders are matched by customer id, which this subject does not give')
  const optOut = { ...ctxOf({ email: 'ada@example.com' }), purposes: ['marketing'] as const }
  t.strictSame(await drain(c.optOut!(optOut)), [{ status: 'opted_out', stream: 'contacts', count: 1, purposes: ['marketing'] }], 'only streams with an opt_out field')
  t.strictSame(await drain(c.optOut!(optOut)), [{ status: 'opted_out', stream: 'contacts', count: 0, purposes: ['marketing'] }], 'idempotent')
  t.strictSame(await drain(c.optOut!({ ...optOut, purposes: ['marketing', 'partner_sharing'] })), [
    { status: 'opted_out', stream: 'contacts', count: 0, purposes: ['marketing'] },
    { status: 'not_supported', stream: 'contacts', purposes: ['partner_sharing'], reason: 'contacts records no opt-out of partner_sharing' }
  ], 'a purpose the stream cannot stop is reported as such')
  t.strictSame(c.data.get('contacts'), [
    { id: 1, email: 'ada@example.com', phone: '+447700900001', restricted: true, marketing: 'no' },
    { id: 2, email: 'grace@example.com' }
  ])
  t.strictSame(await drain(c.unrestrict!(ctxOf({ email: 'ada@example.com' }))), [
    { status: 'unrestricted', stream: 'contacts', count: 1 },
    { status: 'not_found', stream: 'orders' }
  ])
  t.equal(c.data.get('contacts')![0]!.restricted, false, 'lifted')
  t.equal(c.data.get('contacts')![0]!.marketing, 'no', 'lifting a restriction leaves the opt-out alone')
  t.strictSame(c.calls, { collect: 0, erase: 0, restrict: 1, unrestrict: 1, opt_out: 3, health: 0 })
})

t.test('memory: injected faults on unrestrict', async (t) => {
  const c = createMemoryConnector({ ...structuredClone(restricting), faults: { unrestrict: { status: 503, times: 1 } } })
  await drain(c.restrict!(ctxOf({ email: 'ada@example.com' })))
  await t.rejects(drain(c.unrestrict!(ctxOf({ email: 'ada@example.com' }))), { code: 'DSR_CONNECTOR_UNAVAILABLE', retryable: true })
  t.equal(c.data.get('contacts')![0]!.restricted, true, 'a failed lift changes nothing')
  t.match(await drain(c.unrestrict!(ctxOf({ email: 'ada@example.com' }))), [{ status: 'unrestricted', stream: 'contacts', count: 1 }])
})

t.test('memory: injected faults fail the given number of calls with the HTTP classification', async (t) => {
  const c = createMemoryConnector({ ...structuredClone(config), faults: { collect: { status: 429, times: 2, retry_after_seconds: 7 } } })
  const ctx = { requestId: 'r', subject: { email: 'ada@example.com' }, signal: new AbortController().signal, log: { debug () {}, info () {}, warn () {}, error () {} } }
  for (let i = 0; i < 2; i++) {
    await t.rejects(async () => { for await (const _ of c.collect!(ctx)) void _ }, { code: 'DSR_CONNECTOR_RATE_LIMITED', retryable: true, retryAfterMs: 7000 })
  }
  let n = 0
  for await (const _ of c.collect!(ctx)) n++
  t.equal(n, 1, 'then it answers')
  t.equal(c.calls.collect, 3)
})
