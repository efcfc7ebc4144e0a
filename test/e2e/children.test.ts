import t from 'tap'
import { auth, build, registryOf, requestBody, testDb, waitFor } from '../helper.js'

/**
 * Children (domain/children.ts): a child's erasure waits for no approval and reaches every system,
 * is due internally CHILD_DUE_DAYS after receipt, leads the deadline report, and its receipt says so.
 * On Postgres when DATABASE_URL is set, and embedded.
 */

const DAY = 86_400_000
const ADA = 'ada@example.com'
const connectors = [
  { id: 'crm', driver: 'memory', settings: { streams: [{ name: 'contacts', match: { email: 'email' }, records: [{ id: 'c1', email: ADA }] }] } },
  {
    // A system a person looks after, where erasure does not apply to adults' requests.
    id: 'stats',
    driver: 'memory',
    settings: { streams: [{ name: 'counts', match: { email: 'email' }, records: [] }] },
    manual: { only: true, not_applicable: { erase: 'holds only aggregated counts' } }
  }
]
const env = { APPROVAL_REQUIRED: 'erasure', TASK_POLL_SECONDS: '0.5', TASK_RETRY_BASE_MS: '50' }

interface TaskBody { connector: string, action: string, status: string, instructions: string | null, links: { complete: string } }

for (const embedded of [false, true]) {
  const where = embedded ? 'embedded' : (process.env.DATABASE_URL ? 'Postgres' : 'embedded (no DATABASE_URL)')

  t.test(`${where}: a child's erasure completes without approval, in every system, and its receipt says so`, async (t) => {
    const app = await build(t, { dbh: await testDb(t, { embedded }), registry: await registryOf(connectors), env })
    const post = async (over: Record<string, unknown>) => app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody(over) })
    const verified = { type: 'erasure', subject: { email: ADA }, verification: { method: 'account_login' } }

    const adult = (await post(verified)).json()
    t.equal(adult.status, 'awaiting_approval', "an adult's erasure waits for approval (APPROVAL_REQUIRED=erasure)")
    t.equal(adult.child, false)

    const res = await post({ ...verified, child: true })
    t.equal(res.statusCode, 202)
    const child = res.json()
    t.equal(child.child, true)
    t.equal(child.status, 'in_progress', "a child's erasure is not held")
    t.equal(Date.parse(child.internal_due_at) - Date.parse(child.received_at), 7 * DAY, 'due internally 7 days after receipt (CHILD_DUE_DAYS)')
    t.ok(Date.parse(child.internal_due_at) < Date.parse(child.due_at), 'well before the legal deadline')
    const tasks = child.tasks as TaskBody[]
    t.same(tasks.map((x) => `${x.connector}/${x.action}/${x.status}`).sort(), ['crm/erase/pending', 'stats/erase/manual'],
      'every system, including the one whose connector file says erasure does not apply')
    t.match(tasks.find((x) => x.connector === 'stats')!.instructions, /child.*holds only aggregated counts/)
    const done = await app.inject({
      method: 'POST',
      url: tasks.find((x) => x.connector === 'stats')!.links.complete,
      headers: auth(),
      payload: { outcome: 'done', note: 'checked: nothing of the child there', evidence_ref: 'TICKET-1' }
    })
    t.equal(done.statusCode, 200)
    const closed = await waitFor(async () => {
      const b = (await app.inject({ url: `/v1/requests/${child.id}`, headers: auth() })).json()
      return b.status === 'completed' ? b : null
    }, 30_000, "the child's erasure to complete")
    t.equal(closed.status, 'completed')
    const events = (await app.inject({ url: `/v1/requests/${child.id}/events`, headers: auth() })).json().data as Array<{ to_status: string | null }>
    t.notOk(events.some((e) => e.to_status === 'awaiting_approval'), 'never held on the trail')

    const receipt = (await app.inject({ url: `/v1/requests/${child.id}/receipt`, headers: auth() })).json().receipt
    t.match(receipt.child, { statement: /child's data/, internal_due_at: child.internal_due_at, on_time: true }, 'the receipt says it was a child\'s')
    t.same(receipt.connectors.map((c: { connector: string }) => c.connector).sort(), ['crm', 'stats'])
  })

  t.test(`${where}: the mark, by flag or by age, and a child's request leads the deadline report`, async (t) => {
    const app = await build(t, { dbh: await testDb(t, { embedded }), registry: await registryOf(connectors), env })
    const post = async (over: Record<string, unknown>) => app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody(over) })
    t.equal((await post({ age: 10 })).json().child, true, 'an age under CHILD_AGE (14) marks a child')
    t.equal((await post({ age: 14 })).json().child, false, '14 is not under 14')
    const contradicts = await post({ child: false, age: 9 })
    t.equal(contradicts.statusCode, 400)
    t.match(contradicts.json(), { code: 'DSR_VALIDATION_FAILED', details: [{ field: '/child' }] })

    const older = await build(t, { dbh: await testDb(t, { embedded }), registry: await registryOf(connectors), env: { ...env, CHILD_AGE: '16' } })
    t.equal((await older.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody({ age: 15 }) })).json().child, true, 'CHILD_AGE is configurable')

    // An adult's access request due in about a day, and a child's received 8 days ago: its legal
    // deadline is weeks away, but its internal one has passed. The child's comes first.
    const now = Date.now()
    const adult = (await post({ received_at: new Date(now - 29 * DAY).toISOString() })).json()
    const child = (await post({ received_at: new Date(now - 8 * DAY).toISOString(), child: true })).json()
    const report = (await app.inject({ url: '/v1/reports/deadlines?window_hours=96', headers: auth() })).json()
    const ids = report.due_soon.map((e: { id: string }) => e.id)
    t.ok(ids.includes(adult.id), "the adult's request is due soon")
    t.equal(ids[0], child.id, "the child's request leads the report")
    t.match(report.due_soon[0], { child: true, internal_due_at: child.internal_due_at })
    t.ok(Date.parse(report.due_soon[0].due_at) > Date.parse(report.due_soon[1].due_at), 'although its legal deadline is later')
  })
}
