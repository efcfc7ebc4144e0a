import t from 'tap'
import { sql } from 'drizzle-orm'
import { createHash } from 'node:crypto'
import { auth, build, requestBody, testDb } from '../helper.js'
import { parseDuplicatePolicy, subjectKeys } from '../../src/domain/duplicates.js'

/**
 * A second open request for the same person and type (DUPLICATE_POLICY): linked to the open one,
 * answered with it (merge), or refused (409 naming it). The requests are left unverified, so that
 * they stay open.
 */

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')

t.test('DUPLICATE_POLICY reads a default and per-type entries, and names what it cannot read', async (t) => {
  const { policy, problems } = parseDuplicatePolicy('merge, erasure:refuse')
  t.same(problems, [])
  t.equal(policy.for('access'), 'merge')
  t.equal(policy.for('erasure'), 'refuse')
  t.equal(parseDuplicatePolicy(undefined).policy.for('erasure'), 'link', 'link when nothing is said')
  t.match(parseDuplicatePolicy('erasure:drop,nope:link,a:b:c').problems, [/"erasure:drop"/, /unknown request type "nope"/, /"a:b:c"/])
})

t.test('subject keys: an e-mail and its SHA-256 match, and no identifier is kept in clear', async (t) => {
  const byEmail = subjectKeys({ email: 'ada@example.com', phone: '+442079460000' })
  t.same(subjectKeys({ email_sha256: sha256('ada@example.com') }), [byEmail.find((k) => k.startsWith('email:'))])
  t.notOk(/ada@|example\.com|2079460000/.test(byEmail.join(' ')), 'hashes only') // not 'ada' alone: a hex hash can hold it
  t.not(subjectKeys({ customer_id: 'C1' })[0], subjectKeys({ account_id: 'C1' })[0], 'the kind of identifier is part of the key')
})

for (const embedded of [false, true]) {
  const where = embedded ? 'embedded' : (process.env.DATABASE_URL ? 'Postgres' : 'embedded (no DATABASE_URL)')

  t.test(`${where}: link (the default) links the second open request to the first`, async (t) => {
    const app = await build(t, { dbh: await testDb(t, { embedded }) })
    const post = async (over: Record<string, unknown>) => (await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody(over) }))
    const first = (await post({ type: 'erasure', subject: { email: 'ada@example.com' } })).json()
    t.equal(first.duplicate_of, null, 'the first has nothing to duplicate')
    const second = await post({ type: 'erasure', subject: { email: 'ADA@Example.com', phone: '+44 20 7946 0000' } })
    t.equal(second.statusCode, 202, 'accepted')
    t.equal(second.json().duplicate_of, first.id, 'linked to the open one (the e-mail matched)')
    const byHash = (await post({ type: 'erasure', subject: { email_sha256: sha256('ada@example.com') } })).json()
    t.equal(byHash.duplicate_of, first.id, 'an e-mail hash finds it too')
    const byPhone = (await post({ type: 'erasure', subject: { phone: '+442079460000' } })).json()
    t.equal(byPhone.duplicate_of, second.json().id, 'a phone number finds the request that gave it')
    t.equal((await post({ type: 'access', subject: { email: 'ada@example.com' } })).json().duplicate_of, null, 'another type is not a duplicate')
    t.equal((await post({ type: 'erasure', subject: { email: 'grace@example.com' } })).json().duplicate_of, null, 'another person is not')
    t.equal((await app.inject({ url: `/v1/requests/${second.json().id}`, headers: auth() })).json().duplicate_of, first.id, 'the link is stored')

    t.equal((await app.inject({ method: 'POST', url: `/v1/requests/${first.id}/cancel`, headers: auth(), payload: { reason: 'test' } })).statusCode, 200)
    t.equal((await post({ type: 'erasure', subject: { email: 'ada@example.com' } })).json().duplicate_of, second.json().id,
      'once the first is closed, the earliest still open one')
    const keysOf = async (id: string) => (await app.dbh.rows<{ n: number }>(sql`select count(*)::int as n from open_subject_keys where request_id = ${id}`))[0]!.n
    t.equal(await keysOf(first.id), 0, 'a closed request leaves the match index')
    t.equal(await keysOf(second.json().id), 2, 'an open one is there by each of its identifiers')
  })

  t.test(`${where}: merge answers with the open request, unless the new one asks more`, async (t) => {
    const app = await build(t, { dbh: await testDb(t, { embedded }), env: { DUPLICATE_POLICY: 'merge' } })
    const post = async (over: Record<string, unknown>) => (await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody(over) }))
    const count = async () => (await app.dbh.rows<{ n: number }>(sql`select count(*)::int as n from requests`))[0]!.n
    const first = (await post({ type: 'erasure', subject: { email: 'ada@example.com' } })).json()
    const again = await post({ type: 'erasure', subject: { email: 'ada@example.com' }, channel: 'email' })
    t.equal(again.statusCode, 200, '200: answered with the open one')
    t.equal(again.json().id, first.id)
    t.equal(again.headers.location, `/v1/requests/${first.id}`)
    t.equal(await count(), 1, 'nothing new stored')
    const events = (await app.inject({ url: `/v1/requests/${first.id}/events`, headers: auth() })).json().data as Array<{ action: string, details: unknown }>
    t.match(events.find((e) => e.action === 'duplicate_merged'), { details: { channel: 'email' } }, 'the merge is on the open request\'s trail')

    const rect = (await post({ type: 'rectification', subject: { email: 'ada@example.com' }, changes: [{ field: 'phone', value: '+441' }] })).json()
    const sameRect = await post({ type: 'rectification', subject: { email: 'ada@example.com' }, changes: [{ field: 'phone', value: '+441' }] })
    t.equal(sameRect.json().id, rect.id, 'the same correction is merged')
    const otherRect = await post({ type: 'rectification', subject: { email: 'ada@example.com' }, changes: [{ field: 'name', value: 'Ada' }] })
    t.equal(otherRect.statusCode, 202, 'another correction asks more: stored')
    t.equal(otherRect.json().duplicate_of, rect.id, 'and linked')
  })

  t.test(`${where}: refuse answers 409 naming the open request, and stores nothing; per type`, async (t) => {
    const app = await build(t, { dbh: await testDb(t, { embedded }), env: { DUPLICATE_POLICY: 'link,erasure:refuse' } })
    const post = async (over: Record<string, unknown>) => (await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody(over) }))
    const first = (await post({ type: 'erasure', subject: { email: 'ada@example.com' } })).json()
    const refused = await post({ type: 'erasure', subject: { email: 'ada@example.com' }, verification: { method: 'account_login' } })
    t.equal(refused.statusCode, 409)
    t.equal(refused.json().code, 'DSR_DUPLICATE_REQUEST')
    t.match(refused.json().message, first.id, 'the open request is named')
    t.equal((await app.dbh.rows<{ n: number }>(sql`select count(*)::int as n from requests`))[0]!.n, 1, 'nothing stored')
    const access = [await post({ type: 'access', subject: { email: 'ada@example.com' } }), await post({ type: 'access', subject: { email: 'ada@example.com' } })]
    t.same(access.map((r) => r.statusCode), [202, 202], 'access requests are linked, not refused')
    t.equal(access[1]!.json().duplicate_of, access[0]!.json().id)

    // Requests that arrive together: the person's lock lets exactly one through.
    const together = await Promise.all(Array.from({ length: 8 }, () => post({ type: 'erasure', subject: { email: 'grace@example.com' } })))
    t.same(together.map((r) => r.statusCode).sort(), [202, 409, 409, 409, 409, 409, 409, 409], 'one stored, seven refused')
  })
}
