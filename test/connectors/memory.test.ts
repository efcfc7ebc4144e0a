import t from 'tap'
import { createMemoryConnector, memoryConnector, type MemoryConfig } from '../../connectors/memory/index.js'
import { connectorContract } from './contract.js'

const config: MemoryConfig = {
  streams: [
    {
      name: 'contacts', description: 'Contacts', categories: ['contact'], match: { email: 'email', phone: 'phone' },
      records: [{ id: 1, email: 'ada@example.com', phone: '+447700900001' }, { id: 2, email: 'grace@example.com' }]
    },
    {
      name: 'orders', description: 'Orders', categories: ['commercial'], match: { customer_id: 'customer' },
      records: [{ id: 10, customer: 'c-1', email: 'ada@example.com' }, { id: 11, customer: 'c-2', email: 'grace@example.com' }]
    }
  ]
}

connectorContract(t, 'memory', async () => ({
  connector: createMemoryConnector(structuredClone(config)),
  capabilities: memoryConnector.capabilities,
  streams: memoryConnector.streamsFor!(config),
  subject: { email: 'ada@example.com', customer_id: 'c-1' },
  other: { email: 'grace@example.com', customer_id: 'c-2' },
  belongsTo: (item, who) => item.type === 'record' && item.data.email === who.email
}))

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
