import t from 'tap'
import { auth, build, registryOf, requestBody, testDb, waitFor } from '../helper.js'
import { REFUSAL_GROUND_CODES, REFUSAL_GROUNDS, type RefusalGround } from '../../src/domain/refusal-grounds.js'
import { loadConfig } from '../../src/config.js'
import type { RequestType } from '../../src/domain/requests.js'
import { SEARCHED_BY_HAND, systemsOf } from '../../src/archive/completeness.js'

/**
 * What people decide: a request that policy holds waits for approval; a request is refused on a
 * coded legal ground, recorded on it and on its trail; one system's part is refused; a ground
 * without a provision for the request's regime and type is refused with a coded 422. On Postgres
 * when DATABASE_URL is set, and embedded.
 */

const people = ['ada@example.com', 'grace@example.com']
const systems = [
  { id: 'crm', driver: 'memory', settings: { streams: [{ name: 'contacts', match: { email: 'email' }, records: people.map((email, i) => ({ id: `c${i}`, email })) }] } },
  // A system no connector reaches: a person does everything there.
  { id: 'archive_room', driver: 'manual', display_name: 'Paper archive', manual: { instructions: { erase: 'Shred the paper file of the person.' } } }
]
const env = { TASK_POLL_SECONDS: '0.5', APPROVAL_REQUIRED: 'erasure' }
const TERMINAL = ['completed', 'partially_completed', 'failed', 'rejected', 'cancelled']

/** A request type each ground applies to. */
const typeFor = (ground: RefusalGround): RequestType => {
  const types: readonly RequestType[] | undefined = (REFUSAL_GROUNDS[ground] as { types?: readonly RequestType[] }).types
  return types?.[0] ?? 'access'
}

t.test("a system searched by hand is not the archive's: the manifest says a person searched it", async (t) => {
  const task = { status: 'succeeded', lastErrorCode: null, skipReason: null }
  t.strictSame(systemsOf([
    { ...task, connectorId: 'crm', result: null },
    { ...task, connectorId: 'paper', result: { manual: { outcome: 'done' } } }
  ]), [{ connector: 'crm', status: 'collected' }, { connector: 'paper', status: 'skipped', skip_reason: SEARCHED_BY_HAND }])
})

t.test('APPROVAL_REQUIRED is checked at start, naming the entry', async (t) => {
  t.throws(() => loadConfig({ APPROVAL_REQUIRED: 'erasure,deletion' }), /APPROVAL_REQUIRED: "deletion" is not a request type/)
  t.throws(() => loadConfig({ APPROVAL_REQUIRED: 'access:eu' }), /APPROVAL_REQUIRED: "access:eu": unknown regime "eu"/)
  t.doesNotThrow(() => loadConfig({ APPROVAL_REQUIRED: 'erasure, access:ccpa, *:pipl' }))
})

for (const embedded of [false, true]) {
  const where = embedded ? 'embedded' : (process.env.DATABASE_URL ? 'Postgres' : 'embedded (no DATABASE_URL)')

  t.test(`${where}: approval, refusal on each ground, and a system's part refused`, async (t) => {
    const app = await build(t, { dbh: await testDb(t, { embedded }), registry: await registryOf(systems), env })
    const get = async (id: string) => (await app.inject({ url: `/v1/requests/${id}`, headers: auth() })).json()
    const events = async (id: string) => (await app.inject({ url: `/v1/requests/${id}/events`, headers: auth() })).json().data as Array<Record<string, any>>
    const create = async (over: Record<string, unknown>) => {
      const res = await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody({ subject: { email: 'ada@example.com' }, ...over }) })
      t.equal(res.statusCode, 202)
      return res.json()
    }
    const post = (url: string, payload: object, who: 'admin' | 'writer' = 'admin') => app.inject({ method: 'POST', url, headers: auth(who), payload })

    // Held for approval: verified at intake, but nothing is planned until a person approves.
    const held = await create({ type: 'erasure', verification: { method: 'account_login' } })
    t.equal(held.status, 'awaiting_approval', 'an erasure waits for approval (APPROVAL_REQUIRED=erasure)')
    t.equal((await get(held.id)).tasks.length, 0, 'no task before approval')
    t.equal((await post(`/v1/requests/${held.id}/approve`, {}, 'writer')).statusCode, 403, 'approving needs requests:approve')
    const approved = await post(`/v1/requests/${held.id}/approve`, { note: 'Checked against the contract' })
    t.equal(approved.statusCode, 200)
    t.equal(approved.json().status, 'in_progress', 'approved: planned at once')
    const again = await post(`/v1/requests/${held.id}/approve`, {})
    t.equal(again.statusCode, 409)
    t.equal(again.json().code, 'DSR_NOT_AWAITING_APPROVAL')
    const trail = (await events(held.id)).filter((e) => e.action === 'transition').map((e) => [e.to_status, e.reason])
    t.strictSame(trail.slice(1, 4), [['awaiting_approval', 'held for approval (APPROVAL_REQUIRED)'], ['ready', 'approved'], ['in_progress', '2 task(s) planned']], 'the trail shows the hold and the approval')
    t.equal((await create({ type: 'access', verification: { method: 'account_login' } })).status, 'in_progress', 'an access request is not held')

    // Part of the approved erasure refused: the paper archive keeps the file under a legal obligation.
    const paper = (await get(held.id)).tasks.find((x: { connector: string }) => x.connector === 'archive_room')
    t.match(paper, { status: 'manual', instructions: 'Shred the paper file of the person.' }, "a manual task with the connector file's instructions")
    const refused = await post(paper.links.refuse, { ground: 'legal_obligation', explanation: 'Signed contracts are kept for 10 years under commercial law.' })
    t.equal(refused.statusCode, 200)
    const done = await waitFor(async () => { const b = await get(held.id); return TERMINAL.includes(b.status) ? b : null }, 20_000, 'the erasure to end')
    t.equal(done.status, 'completed', 'the CRM erased, the paper archive refused: the request ends')
    t.match(done.tasks.find((x: { connector: string }) => x.connector === 'archive_room'), {
      status: 'skipped',
      skip_reason: 'refused (legal_obligation, GDPR Art 17(3)(b))',
      result: { refusal: { ground: 'legal_obligation', provision: 'GDPR Art 17(3)(b)', explanation: 'Signed contracts are kept for 10 years under commercial law.', by: 'admin' } }
    }, 'the refusal is on the task')
    t.match((await events(held.id)).find((e) => e.action === 'task_refused'), { details: { connector: 'archive_room', ground: 'legal_obligation', provision: 'GDPR Art 17(3)(b)' } })

    // A rejection under each ground shows in the request and on its trail.
    for (const ground of REFUSAL_GROUND_CODES) {
      const type = typeFor(ground)
      const r = await create({ type })
      const res = await post(`/v1/requests/${r.id}/reject`, { ground, explanation: `Refused: ${ground}. You may complain to the supervisory authority.` })
      t.equal(res.statusCode, 200, `${ground}: rejected`)
      const provision = REFUSAL_GROUNDS[ground].provisions.gdpr
      t.match(res.json(), { status: 'rejected', refusal: { ground, provision, explanation: `Refused: ${ground}. You may complain to the supervisory authority.`, by: 'admin' } }, `${ground}: on the request`)
      t.match((await events(r.id)).at(-1), { action: 'transition', to_status: 'rejected', reason: `refused: ${ground}`, details: { ground, provision } }, `${ground}: on the trail`)
    }

    // A ground the law of the request does not offer, or for another type, is refused; nothing changes.
    const access = await create({ type: 'access' })
    for (const [ground, regime] of [['compelling_legitimate_grounds', 'gdpr'], ['legal_claims', 'lgpd']] as const) {
      const r = regime === 'gdpr' ? access : await create({ type: 'erasure', regime })
      const res = await post(`/v1/requests/${r.id}/reject`, { ground, explanation: 'x' })
      t.equal(res.statusCode, 422, `${ground} under ${regime}`)
      t.equal(res.json().code, 'DSR_REFUSAL_GROUND_NOT_APPLICABLE')
      t.match(await get(r.id), { status: 'received', refusal: null }, 'the request is as it was')
    }
    const unknown = await post(`/v1/requests/${access.id}/reject`, { ground: 'because', explanation: 'x' })
    t.equal(unknown.statusCode, 400, 'an unknown ground is a validation error')
    // Once systems were asked to act, the whole request is not rejected: its parts are refused instead.
    const late = await post(`/v1/requests/${held.id}/reject`, { ground: 'manifestly_unfounded_or_excessive', explanation: 'x' })
    t.equal(late.statusCode, 409)
    t.equal(late.json().code, 'DSR_ILLEGAL_TRANSITION')

    // A system searched by hand: its part is not in the archive, and the archive says so.
    const byHand = await create({ type: 'access', verification: { method: 'account_login' } })
    const search = (await get(byHand.id)).tasks.find((x: { connector: string }) => x.connector === 'archive_room')
    t.match(search, { action: 'collect', status: 'manual', instructions: /Find every record of the person.*Paper archive/ }, 'general instructions where the file gives none for the action')
    t.equal((await post(search.links.complete, { outcome: 'nothing_found', note: 'No paper file under that name' })).statusCode, 200)
    const archived = await waitFor(async () => { const b = await get(byHand.id); return b.archive?.status === 'ready' ? b : null }, 30_000, 'the archive')
    t.equal(archived.archive.complete, false, 'the archive does not claim the paper archive was searched by the service')
    t.strictSame(archived.archive.missing, [{ connector: 'archive_room', status: 'skipped' }], 'named among the systems whose data is not in it (the manifest says why)')

    const grounds = (await app.inject({ url: '/v1/refusal-grounds', headers: auth('reader') })).json().data
    t.equal(grounds.length, REFUSAL_GROUND_CODES.length, 'the table of grounds is listed')
    t.match(grounds.find((g: { ground: string }) => g.ground === 'rights_of_others'), { types: ['access', 'portability'], provisions: { gdpr: 'GDPR Art 15(4) and 20(4)' } })
  })
}
