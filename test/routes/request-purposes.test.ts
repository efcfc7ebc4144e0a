import t from 'tap'
import { sql } from 'drizzle-orm'
import { auth, build, registryOf, requestBody, waitFor } from '../helper.js'
import type { MemoryConnector } from '../../connectors/memory/index.js'

/**
 * An opt-out request's purposes: validated at intake, stored on the request (`opt_out_purposes`),
 * shown on it, given to the connectors by the opt_out task (through pg-boss on the test database),
 * and what a connector cannot stop reported in the task's outcomes.
 */

const ADA = 'ada@example.com'
const env = { TASK_POLL_SECONDS: '0.5', TASK_RETRY_BASE_MS: '50', SCHEDULER_ENABLED: 'false' }

t.test('purposes on POST /v1/requests', async (t) => {
  // A newsletter that records marketing and profiling opt-outs in two fields, and a shop that only unsubscribes.
  const registry = await registryOf([
    {
      id: 'newsletter',
      driver: 'memory',
      settings: {
        streams: [
          { name: 'members', description: 'Members', match: { email: 'email' }, records: [{ id: 1, email: ADA, news: 'yes', tracking: 'on', receipts: 'yes' }, { id: 2, email: 'grace@example.com', news: 'yes', tracking: 'on' }], opt_out: { field: 'news', value: 'no' } },
          { name: 'tracking', description: 'Tracking', match: { email: 'email' }, records: [{ id: 1, email: ADA, tracking: 'on' }], opt_out: { field: 'tracking', value: 'off', purposes: ['profiling'] } }
        ]
      }
    }
  ])
  const app = await build(t, { registry, env })
  const create = (body: Record<string, unknown>) => app.inject({ method: 'POST', url: '/v1/requests', headers: auth('writer'), payload: requestBody({ subject: { email: ADA }, ...body }) })

  t.test('refused where they do not belong, empty or repeated, with a code', async (t) => {
    for (const [what, body, field] of [
      ['another type', { type: 'access', purposes: ['marketing'] }, '/purposes'],
      ['empty', { type: 'marketing_opt_out', purposes: [] }, '/purposes'],
      ['repeated', { type: 'consent_withdrawal', purposes: ['marketing', 'marketing'] }, '/purposes'],
      ['unknown', { type: 'objection', purposes: ['transactional'] }, '/purposes/0']
    ] as const) {
      const res = await create(body)
      t.equal(res.statusCode, 400, what)
      t.equal(res.json().code, 'DSR_VALIDATION_FAILED', `${what}: coded`)
      t.ok(JSON.stringify(res.json().details ?? []).includes(field), `${what}: names ${field}`)
    }
  })

  t.test('defaults per type, stored as a text array', async (t) => {
    const cases: Array<[Record<string, unknown>, string[] | null]> = [
      [{ type: 'marketing_opt_out' }, ['marketing']],
      [{ type: 'objection' }, ['marketing']],
      [{ type: 'consent_withdrawal' }, ['marketing', 'partner_sharing', 'profiling']],
      [{ type: 'consent_withdrawal', purposes: ['profiling', 'marketing'] }, ['marketing', 'profiling']],
      [{ type: 'access' }, null]
    ]
    for (const [body, purposes] of cases) {
      const res = await create({ ...body, subject: { email: `p${Math.random()}@example.com` } })
      t.equal(res.statusCode, 202)
      t.strictSame(res.json().purposes, purposes, `${JSON.stringify(body)} → ${JSON.stringify(purposes)}`)
      const [row] = await app.dbh.rows<{ p: string[] }>(sql`select opt_out_purposes as p from requests where id = ${res.json().id}`)
      t.strictSame(row!.p, purposes ?? [], 'stored in opt_out_purposes')
      t.strictSame((await app.inject({ url: `/v1/requests/${res.json().id}`, headers: auth() })).json().purposes, purposes, 'and read back')
    }
  })

  t.test('the opt_out task gets them; what a stream cannot stop is reported', async (t) => {
    const res = await create({ type: 'marketing_opt_out', purposes: ['profiling', 'partner_sharing'], verification: { method: 'account_login' } })
    t.equal(res.statusCode, 202)
    const done = await waitFor(async () => {
      const body = (await app.inject({ url: `/v1/requests/${res.json().id}`, headers: auth() })).json()
      return ['completed', 'partially_completed', 'failed'].includes(body.status) ? body : null
    }, 30_000, 'the opt-out to finish')
    t.equal(done.status, 'completed')
    t.strictSame(done.tasks[0].result.outcomes, [
      { status: 'opted_out', stream: 'tracking', count: 1, purposes: ['profiling'] },
      { status: 'not_supported', stream: 'members', purposes: ['partner_sharing', 'profiling'], reason: 'members records no opt-out of partner_sharing, profiling' },
      { status: 'not_supported', stream: 'tracking', purposes: ['partner_sharing'], reason: 'tracking records no opt-out of partner_sharing' }
    ], 'per stream: what it stopped, and what it cannot')
    const system = registry.get('newsletter')!.connector as MemoryConnector
    t.strictSame(system.data.get('members')![0], { id: 1, email: ADA, news: 'yes', tracking: 'on', receipts: 'yes' }, 'marketing was not asked: left alone')
    t.equal(system.data.get('tracking')![0]!.tracking, 'off', 'profiling stopped')
  })
})
