import t, { type Test } from 'tap'
import { sql } from 'drizzle-orm'
import { auth, build, registryOf, requestBody, waitFor } from '../helper.js'
import { startHubspotFake } from '../fakes/hubspot.js'

/**
 * A rectification request, made and verified over HTTP, runs through the engine against the HubSpot
 * fake: the planner gives HubSpot a `rectify` task, the runner hands it the request's changes, the
 * contact ends up with the new values, the task records what happened (counts and field names, never
 * values), and neither the old nor the new values reach a log line.
 */

const env = { TASK_RETRY_BASE_MS: '50', TASK_POLL_SECONDS: '0.5', TASK_LEASE_SECONDS: '5' }

async function setup (t: Test) {
  const fake = await startHubspotFake()
  t.teardown(fake.close)
  const registry = await registryOf([{
    id: 'crm',
    driver: 'hubspot',
    max_attempts: 2,
    settings: { base_url: fake.url, token: { env: 'HUBSPOT_TOKEN' } }
  }], { HUBSPOT_TOKEN: fake.token })
  const logs: string[] = []
  const app = await build(t, { registry, env, logs })
  return { fake, app, logs }
}

async function settle (app: Awaited<ReturnType<typeof build>>, id: string) {
  return waitFor(async () => {
    const body = (await app.inject({ url: `/v1/requests/${id}`, headers: auth() })).json()
    return ['completed', 'partially_completed', 'failed'].includes(body.status) ? body : null
  }, 30_000, `request ${id} to settle`)
}

/** Every log line containing any of `values` (case-insensitive), with the value it contains. */
function leaks (logs: string[], values: Record<string, string>) {
  return logs.flatMap((line) => Object.entries(values)
    .filter(([, v]) => line.toLowerCase().includes(v.toLowerCase()) || line.includes(encodeURIComponent(v)))
    .map(([what]) => ({ what, line })))
}

/** A rectification request, verified at intake (so it is planned and runs at once). */
const create = (app: Awaited<ReturnType<typeof build>>, email: string, changes: Array<{ field: string, value: unknown }>) =>
  app.inject({
    method: 'POST',
    url: '/v1/requests',
    headers: auth('writer'),
    payload: requestBody({ type: 'rectification', subject: { email }, changes, verification: { method: 'account_login' } })
  })

t.test('a rectification request corrects the contact in HubSpot through the engine, logging no value', async (t) => {
  const { fake, app, logs } = await setup(t)
  const created = await create(app, 'Grace@Example.com', [
    { field: 'email', value: 'grace.hopper@navy.example' },
    { field: 'last_name', value: 'Murray-Quillfeather' },
    { field: 'first_name', value: 'Gracia' },
    { field: 'loyalty_tier', value: 'platinum-zq' }
  ])
  t.equal(created.statusCode, 202)
  t.equal(created.json().status, 'in_progress', 'verified at intake: planned and started')
  const done = await settle(app, created.json().id)
  t.equal(done.status, 'completed')
  t.equal(done.tasks.length, 1)
  t.match(done.tasks[0], {
    connector: 'crm',
    action: 'rectify',
    status: 'succeeded',
    attempts: 1,
    last_error_code: null,
    result: {
      outcomes: [{
        status: 'rectified',
        stream: 'contacts',
        count: 1,
        reason: 'no hubspot contact property for field(s) loyalty_tier: left unchanged'
      }]
    }
  }, 'the task result records the outcome, and the field HubSpot does not hold')

  const grace = fake.state.contacts.get('103')!
  t.match(grace.properties, { email: 'grace.hopper@navy.example', firstname: 'Gracia', lastname: 'Murray-Quillfeather' }, 'HubSpot holds the new values')
  t.strictSame(grace.history.lastname!.map((v) => v.value), ['Murray-Quillfeather', 'Hopper'])
  t.strictSame(grace.history.email!.map((v) => v.value), ['grace.hopper@navy.example', 'grace@example.com'])
  t.equal(fake.state.callsByRoute['PATCH /crm/v3/objects/contacts/{id}'], 1, 'one PATCH')
  t.equal(fake.state.contacts.get('104')!.properties.lastname, 'Turing', 'nobody else touched')

  const events = (await app.inject({ url: `/v1/requests/${done.id}/events`, headers: auth() })).json().data as Array<{ action: string, details?: unknown }>
  t.match(events.find((e) => e.action === 'planned'), { details: { action: 'rectify', connectors: ['crm'] } }, 'planned as a rectify task for HubSpot')
  const stored = await app.dbh.rows<{ result: unknown }>(sql`select result from tasks where request_id = ${done.id}`)
  t.notMatch(JSON.stringify(stored), /Quillfeather|Gracia|platinum|navy/i, 'the stored result holds no value')

  t.ok(logs.some((l) => l.includes('hubspot contacts rectified')), 'the connector logged (so the check below has lines to look at)')
  t.ok(logs.some((l) => l.includes('task succeeded')), 'the runner logged')
  t.strictSame(leaks(logs, {
    'old e-mail': 'grace@example.com',
    'old last name': 'Hopper',
    'old first name': 'Grace',
    'new e-mail': 'grace.hopper@navy.example',
    'new e-mail domain': 'navy.example',
    'new last name': 'Quillfeather',
    'new first name': 'Gracia',
    'unmapped value': 'platinum-zq'
  }), [], 'no old or new value in any log line')
})

t.test('an e-mail HubSpot holds as an additional address fails the task, coded, and still logs no value', async (t) => {
  const { fake, app, logs } = await setup(t)
  const created = await create(app, 'ada@example.com', [
    { field: 'email', value: 'ada@analytical-zq.example' },
    { field: 'last_name', value: 'Byronsdottir' }
  ])
  t.equal(created.statusCode, 202)
  const done = await settle(app, created.json().id)
  t.equal(done.status, 'failed', 'its only task failed: the request needs a person')
  t.match(done.tasks[0], { action: 'rectify', status: 'failed', attempts: 1, last_error_code: 'DSR_RECTIFY_ADDITIONAL_EMAIL' }, 'permanent: not retried')
  t.match(done.tasks[0].last_error_message, /additional e-mail/)
  t.equal(fake.state.contacts.get('101')!.properties.email, 'ada@analytical-zq.example', 'her primary address is corrected')
  t.equal(fake.state.contacts.get('102')!.properties.lastname, 'Byronsdottir', 'the other contact has the rest')
  t.equal(fake.state.contacts.get('102')!.properties.email, 'ada.lovelace@work.example', 'and keeps its own primary address')
  t.ok(logs.some((l) => l.includes('DSR_RECTIFY_ADDITIONAL_EMAIL')), 'the failure is logged, by code')
  t.strictSame(leaks(logs, {
    'old e-mail': 'ada@example.com',
    'work e-mail': 'ada.lovelace@work.example',
    'new e-mail': 'analytical-zq',
    'old last name': 'Lovelace',
    'new last name': 'Byronsdottir'
  }), [], 'no old or new value in any log line')
})
