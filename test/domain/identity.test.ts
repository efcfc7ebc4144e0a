import t from 'tap'
import { candidatesOf, chosenSubject, maskEmail, maskName, maskPhone, merge, needsIdentityCheck, type FoundRecord } from '../../src/domain/identity.js'
import { createMemoryConnector } from '../../connectors/memory/index.js'

const PHONE = '+447700900001'
const rec = (connector: string, identifiers: FoundRecord['identifiers'], name?: string): FoundRecord => ({ connector, stream: 's', identifiers, ...(name ? { name } : {}) })

t.test('which requests are checked', async (t) => {
  t.equal(needsIdentityCheck('auto', { phone: PHONE }), true, 'no e-mail address: checked')
  t.equal(needsIdentityCheck('auto', { email: 'ada@example.com', phone: PHONE }), false)
  t.equal(needsIdentityCheck('always', { email: 'ada@example.com' }), true)
  t.equal(needsIdentityCheck('off', { phone: PHONE }), false)
})

t.test('records of one person, across systems, are one candidate with everything they hold', async (t) => {
  const found = [rec('crm', { email: 'ada@example.com', phone: PHONE }), rec('shop', { email: 'ADA@example.com', customer_id: 'C-1' }), rec('crm', { phone: PHONE })]
  const candidates = candidatesOf(found, { phone: PHONE })
  t.equal(candidates.length, 1)
  t.strictSame(candidates[0]!.identifiers, { email: 'ada@example.com', phone: PHONE, customer_id: 'C-1' })
  t.strictSame(candidates[0]!.systems, ['crm', 'shop'])
  t.equal(candidates[0]!.records, 3, 'the record without an address belongs to the one person')
  t.strictSame(merge({ phone: PHONE }, candidates[0]!.identifiers), { phone: PHONE, email: 'ada@example.com', customer_id: 'C-1' })
})

t.test('different addresses, or names where none has an address, are different people', async (t) => {
  const two = candidatesOf([rec('crm', { email: 'ada@example.com', phone: PHONE }), rec('crm', { email: 'ada.alt@example.com', phone: PHONE })], { phone: PHONE })
  t.equal(two.length, 2)
  t.strictSame(chosenSubject(two, 0), { email: 'ada@example.com' }, 'the shared phone number is left out of the chosen person')
  t.equal(candidatesOf([rec('a', { phone: PHONE }, 'Ada Lovelace'), rec('b', { phone: PHONE }, 'ada  lovelace'), rec('b', { phone: PHONE }, 'Alan Turing')], { phone: PHONE }).length, 2)
  t.equal(candidatesOf([rec('crm', { email: 'ada.alt@example.com', phone: PHONE })], { email: 'ada@example.com', phone: PHONE }).length, 2,
    "a phone number that leads only to someone else's address is the wrong person")
  t.equal(candidatesOf([], { phone: PHONE }).length, 0, 'nothing found: nobody')
})

t.test('masking', async (t) => {
  t.equal(maskEmail('ada@example.com'), 'a**@e******.com')
  t.equal(maskPhone(PHONE), '**********01')
  t.equal(maskName('Ada Lovelace'), 'A. L.')
})

t.test('the memory connector identifies by the fields it matches on', async (t) => {
  const c = createMemoryConnector({
    streams: [{
      name: 'customers',
      description: '',
      categories: [],
      match: { email: 'email', phone: 'phone' },
      records: [{ id: 1, email: 'Ada@example.com', phone: PHONE, name: 'Ada Lovelace' }, { id: 2, email: 'ada.alt@example.com', phone: PHONE }, { id: 3, email: 'grace@example.com', phone: '+1' }]
    }]
  })
  const found = await c.identify!({ requestId: 'r', subject: { phone: PHONE }, signal: new AbortController().signal, log: { debug () {}, info () {}, warn () {}, error () {} } })
  t.strictSame(found, [
    { stream: 'customers', identifiers: { email: 'ada@example.com', phone: PHONE }, name: 'Ada Lovelace' },
    { stream: 'customers', identifiers: { email: 'ada.alt@example.com', phone: PHONE } }
  ])
})
