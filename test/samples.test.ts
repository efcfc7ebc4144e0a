import t from 'tap'
import { sql } from 'drizzle-orm'
import { auth, build, requestBody, testDb, waitFor } from './helper.js'
import { createRegistry, readConnectorFile } from '../src/connectors/registry.js'
import { ensureSampleData, SAMPLE_CONNECTORS_FILE } from '../src/connectors/samples.js'
import { drivers } from '../connectors/index.js'

const quiet = { debug () {}, info () {}, warn () {}, error () {} }
const env = { TASK_POLL_SECONDS: '0.5', TASK_RETRY_BASE_MS: '50' }

/** The README walkthrough, in-process: the bundled sample systems, an access request, then an erasure. */
t.test('sample systems: access shows every stream, erasure leaves nothing of the person', async (t) => {
  const dbh = await testDb(t)
  t.equal(await ensureSampleData(dbh), true, 'seeded on first start')
  t.equal(await ensureSampleData(dbh), false, 'never seeded twice')
  const registry = await createRegistry(readConnectorFile(SAMPLE_CONNECTORS_FILE), { drivers, env: {}, log: quiet, serviceDatabase: dbh })
  const app = await build(t, { dbh, registry, env })
  const allStreams = [...registry.values()].flatMap((c) => c.streams.map((s) => `${c.id}/${s.name}`)).sort()
  t.equal(registry.size, 5, 'CRM, support desk, newsletter, webinar and test-result systems')

  const settle = (id: string) => waitFor(async () => {
    const body = (await app.inject({ url: `/v1/requests/${id}`, headers: auth() })).json()
    return ['completed', 'partially_completed', 'failed'].includes(body.status) ? body : null
  }, 60_000, 'the request to settle')

  const access = (await app.inject({
    method: 'POST',
    url: '/v1/requests',
    headers: auth(),
    payload: requestBody({ subject: { email: 'ada@example.com' }, verification: { method: 'account_login' } })
  })).json()
  const accessDone = await settle(access.id)
  t.equal(accessDone.status, 'completed')
  const items = (await app.inject({ url: `/v1/requests/${access.id}/items?limit=1000`, headers: auth() })).json().data
  const seen = [...new Set(items.map((i: { connector: string, stream: string }) => `${i.connector}/${i.stream}`))].sort()
  t.strictSame(seen, allStreams, 'data from every stream of every sample system')
  const text = JSON.stringify(items)
  t.notOk(text.includes('grace@example.com') || text.includes('alan@example.com'), 'nobody else\'s contact data')

  const others = () => dbh.rows<{ digest: string }>(sql`
    select md5(string_agg(x, '|' order by x)) as digest from (
      select 'c' || c::text as x from sample_crm.contacts c where email <> 'ada@example.com'
      union all select 'u' || u::text from sample_support.users u where email <> 'ada@example.com'
      union all select 't' || k::text from sample_support.tickets k where requester_id <> 1
      union all select 'm' || m::text from sample_newsletter.members m where email <> 'ada@example.com'
      union all select 'r' || r::text from sample_webinar.registrants r where email <> 'ada@example.com'
      union all select 'p' || p::text from sample_test_results.respondents p where email <> 'ada@example.com'
      union all select 's' || s::text from sample_test_results.results s where respondent_id <> 1
    ) rows`)
  const before = (await others())[0]?.digest

  const erasure = (await app.inject({
    method: 'POST',
    url: '/v1/requests',
    headers: auth(),
    payload: requestBody({ type: 'erasure', subject: { email: 'ada@example.com' }, verification: { method: 'account_login' } })
  })).json()
  const erased = await settle(erasure.id)
  t.equal(erased.status, 'completed')
  const crm = erased.tasks.find((x: { connector: string }) => x.connector === 'crm')
  const retained = crm.result.outcomes.filter((o: { status: string }) => o.status === 'retained')
  t.match(retained, [{ stream: 'deals', reason: /tax/ }], 'kept accounting data is reported with its reason')
  t.ok(crm.result.outcomes.some((o: { status: string, stream: string }) => o.status === 'erased' && o.stream === 'deals'), 'the link to the person is erased')

  const left = await dbh.rows<{ n: number }>(sql`
    select (select count(*) from sample_crm.contacts where email = 'ada@example.com')
         + (select count(*) from sample_crm.deals where contact_id = 1)
         + (select count(*) from sample_crm.notes where contact_id = 1)
         + (select count(*) from sample_support.users where email = 'ada@example.com')
         + (select count(*) from sample_support.tickets where requester_id = 1)
         + (select count(*) from sample_support.comments where author_id = 1 or ticket_id = 100)
         + (select count(*) from sample_newsletter.members where email = 'ada@example.com')
         + (select count(*) from sample_newsletter.member_tags where member_id = 1)
         + (select count(*) from sample_newsletter.activity where member_id = 1)
         + (select count(*) from sample_webinar.registrants where email = 'ada@example.com')
         + (select count(*) from sample_webinar.attendance where registrant_id = 1)
         + (select count(*) from sample_test_results.respondents where email = 'ada@example.com')
         + (select count(*) from sample_test_results.results where respondent_id = 1)
         + (select count(*) from sample_test_results.result_recipients where email = 'ada@example.com' or result_id = 1) as n`)
  t.equal(Number(left[0]?.n), 0, 'nothing of Ada remains in any sample system')
  t.equal((await others())[0]?.digest, before, 'everyone else is untouched')

  const again = (await app.inject({
    method: 'POST',
    url: '/v1/requests',
    headers: auth(),
    payload: requestBody({ subject: { email: 'ada@example.com' }, verification: { method: 'account_login' } })
  })).json()
  await settle(again.id)
  t.equal((await app.inject({ url: `/v1/requests/${again.id}/items`, headers: auth() })).json().data.length, 0, 'a new access request finds nothing')
})
