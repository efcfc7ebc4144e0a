import t from 'tap'
import { sql } from 'drizzle-orm'
import { auth, build, requestBody, testDb, waitFor } from '../helper.js'
import { createRegistry, readConnectorFile } from '../../src/connectors/registry.js'
import { ensureSampleData, SAMPLE_CONNECTORS_FILE } from '../../src/connectors/samples.js'
import { REQUEST_TYPES } from '../../src/domain/requests.js'
import { TERMINAL_STATUSES } from '../../src/domain/lifecycle.js'
import { drivers } from '../../connectors/index.js'

/**
 * Every request reaches an end. In the zero-setup configuration (the bundled sample systems), a
 * request of each of the 8 types for Ada ends through the API alone: the systems' connectors do
 * what they can, and a person does the rest by the connector file's instructions, recording each
 * outcome on its manual task. Nothing is left overdue. On Postgres when DATABASE_URL is set, and
 * embedded.
 */

const quiet = { debug () {}, info () {}, warn () {}, error () {} }
const env = { TASK_POLL_SECONDS: '0.5', TASK_RETRY_BASE_MS: '50' }

interface TaskBody { id: string, connector: string, action: string, status: string, instructions: string | null, result: Record<string, unknown> | null, links: { complete: string } }

for (const embedded of [false, true]) {
  const where = embedded ? 'embedded' : (process.env.DATABASE_URL ? 'Postgres' : 'embedded (no DATABASE_URL)')

  t.test(`${where}: each of the 8 request types for Ada ends, with automatic and manual tasks`, async (t) => {
    const dbh = await testDb(t, { embedded })
    await ensureSampleData(dbh)
    const registry = await createRegistry(readConnectorFile(SAMPLE_CONNECTORS_FILE), { drivers, env: {}, log: quiet, serviceDatabase: dbh })
    const app = await build(t, { dbh, registry, env })
    const get = async (id: string) => (await app.inject({ url: `/v1/requests/${id}`, headers: auth() })).json()

    const ids: Record<string, string> = {}
    for (const type of REQUEST_TYPES) {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/requests',
        headers: auth(),
        payload: requestBody({
          type,
          subject: { email: 'ada@example.com' },
          verification: { method: 'account_login' },
          ...(type === 'rectification' ? { changes: [{ field: 'phone', value: '+44 20 7946 0000' }] } : {})
        })
      })
      t.equal(res.statusCode, 202, `${type} accepted`)
      ids[type] = res.json().id
      t.not(res.json().status, 'ready', `${type}: planned at intake, not left ready with nothing to do`)
    }

    const manualSeen: string[] = []
    for (const type of REQUEST_TYPES) {
      const id = ids[type]!
      const body = await waitFor(async () => {
        const b = await get(id)
        // Automatic tasks run on their own; each manual one is done by a person, through the API.
        for (const task of (b.tasks as TaskBody[]).filter((x) => x.status === 'manual')) {
          t.ok(task.instructions && task.instructions.length > 10, `${type}/${task.connector}/${task.action}: the person is told what to do`)
          const done = await app.inject({
            method: 'POST',
            url: task.links.complete,
            headers: auth(),
            payload: { outcome: 'done', note: `${task.action} done by hand`, evidence_ref: `TICKET-${task.connector}` }
          })
          t.equal(done.statusCode, 200, `${type}/${task.connector}/${task.action} completed by a person`)
          manualSeen.push(`${type}/${task.connector}/${task.action}`)
        }
        return TERMINAL_STATUSES.includes(b.status) ? b : null
      }, 60_000, `the ${type} request to end`)
      t.ok(['completed', 'partially_completed'].includes(body.status), `${type} ended ${body.status}`)
      t.ok((body.tasks as TaskBody[]).length > 0, `${type}: at least one task`)
    }
    // What no connector of the samples can do was done by people: rectification everywhere, opt-outs where no table records them.
    t.ok(manualSeen.includes('rectification/crm/rectify') && manualSeen.includes('marketing_opt_out/webinar/opt_out'), 'manual tasks for what no connector does')
    t.notOk(manualSeen.includes('marketing_opt_out/newsletter/opt_out'), 'the newsletter records opt-outs itself (its opt_out setting)')
    t.notOk(manualSeen.some((m) => m.endsWith('support/opt_out') || m.endsWith('test_results/opt_out')), 'none where the connector file says the action does not apply')
    const rectified = await get(ids.rectification!)
    const crm = (rectified.tasks as TaskBody[]).find((x) => x.connector === 'crm')!
    t.match(crm, { status: 'succeeded', result: { manual: { outcome: 'done', evidence_ref: 'TICKET-crm', by: 'admin' } } }, "the person's outcome is on the task")
    const events = (await app.inject({ url: `/v1/requests/${ids.rectification}/events`, headers: auth() })).json().data as Array<{ action: string }>
    t.equal(events.filter((e) => e.action === 'task_completed_manually').length, 5, 'each manual completion is on the trail')
    const planned = (await app.inject({ url: `/v1/requests/${ids.marketing_opt_out}/events`, headers: auth() })).json().data
      .find((e: { action: string }) => e.action === 'planned')
    t.match(planned.details.not_applicable, [{ connector: 'support', action: 'opt_out' }, { connector: 'test_results', action: 'opt_out' }], 'systems an action does not apply to are named, with why')

    const [overdue] = await dbh.rows<{ n: number }>(sql`
      select count(*)::int as n from requests where status not in ('completed', 'partially_completed', 'failed', 'rejected', 'cancelled') and effective_due_at < now()`)
    t.equal(overdue!.n, 0, 'nothing overdue')
    const report = (await app.inject({ url: '/v1/reports/deadlines?window_hours=72', headers: auth() })).json()
    t.strictSame([report.due_soon.length, report.overdue.length], [0, 0], 'the deadline report lists nothing due soon or overdue')

    // A restriction placed by people is placed all the same, and lifted through the API: by people again where no connector can.
    const restricted = await get(ids.restriction!)
    t.ok(restricted.restriction?.placed_at, 'the restriction placed by hand shows as placed')
    const lift = await app.inject({
      method: 'POST',
      url: `/v1/requests/${ids.restriction}/restriction/lift`,
      headers: auth(),
      payload: { reason: 'the accuracy check is over', notified_subject_at: new Date().toISOString() }
    })
    t.equal(lift.statusCode, 202, 'and can be lifted (accepted: the lift runs)')
    const unrestrict = (lift.json().tasks as TaskBody[]).filter((x) => x.action === 'unrestrict')
    const byHand = (restricted.tasks as TaskBody[]).filter((x) => x.action === 'restrict' && x.result?.manual !== undefined).map((x) => x.connector).sort()
    t.ok(byHand.length > 0, 'some systems were restricted by hand')
    t.same(unrestrict.filter((x) => x.status === 'manual').map((x) => x.connector).sort(), byHand, 'each is lifted by a person, told what to do')
    for (const task of unrestrict.filter((x) => x.status === 'manual')) {
      t.match(task.instructions, /Lift the restriction/)
      const res = await app.inject({ method: 'POST', url: task.links.complete, headers: auth(), payload: { outcome: 'done', note: 'unpaused' } })
      t.equal(res.statusCode, 200, `${task.connector}: lifted by hand`)
    }
    const afterLift = await waitFor(async () => {
      const b = await get(ids.restriction!)
      return (b.tasks as TaskBody[]).every((x) => !['manual', 'pending', 'running', 'retry_wait'].includes(x.status)) ? b : null
    }, 30_000, 'the lift to finish')
    t.equal(afterLift.status, 'completed', 'the request stays completed')
    t.ok(afterLift.restriction.lifted_at, 'the lift is recorded')

    // A manual task is completed once; an automatic one cannot be completed by hand.
    const again = await app.inject({ method: 'POST', url: crm.links.complete, headers: auth(), payload: { outcome: 'done', note: 'again' } })
    t.equal(again.statusCode, 409)
    t.equal(again.json().code, 'DSR_ILLEGAL_TASK_ACTION')
  })
}
