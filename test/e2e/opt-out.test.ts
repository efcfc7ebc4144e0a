import t from 'tap'
import { sql } from 'drizzle-orm'
import { auth, build, requestBody, testDb, waitFor } from '../helper.js'
import { createRegistry, readConnectorFile } from '../../src/connectors/registry.js'
import { ensureSampleData, SAMPLE_CONNECTORS_FILE } from '../../src/connectors/samples.js'
import { drivers } from '../../connectors/index.js'
import type { DbHandle } from '../../src/db/client.js'

/**
 * Opt-out everywhere, through the HTTP API on the zero-setup sample systems (the generic Postgres
 * connector's `opt_out` setting): each purpose sets only its own column, transactional mail is never
 * touched, nobody else changes, and a re-run changes nothing. On a real Postgres and on the embedded one.
 */

const quiet = { debug () {}, info () {}, warn () {}, error () {} }
const env = { TASK_POLL_SECONDS: '0.5', TASK_RETRY_BASE_MS: '50', SCHEDULER_ENABLED: 'false' }

interface Outcome { status: string, stream: string, count?: number, purposes?: string[] }
interface Task { connector: string, action: string, status: string, result: { outcomes?: Outcome[] } | null }
interface Member { status: string, unsubscribed: boolean, share_with_partners: boolean, track_engagement: boolean, service_emails: boolean }

async function members (dbh: DbHandle, email: string): Promise<Member> {
  const [row] = await dbh.rows<Member>(sql`
    select status, unsubscribed_at is not null as unsubscribed, share_with_partners, track_engagement, service_emails
    from sample_newsletter.members where email = ${email}`)
  return row!
}

async function crmConsent (dbh: DbHandle, email: string): Promise<{ marketing_consent: boolean, withdrawn: boolean }> {
  const [row] = await dbh.rows<{ marketing_consent: boolean, withdrawn: boolean }>(sql`
    select marketing_consent, marketing_consent_withdrawn_at is not null as withdrawn from sample_crm.contacts where email = ${email}`)
  return row!
}

/** Every sample row as text: a digest that changes with any column of any row. */
async function digest (dbh: DbHandle): Promise<string> {
  const [row] = await dbh.rows<{ d: string }>(sql`
    select md5(string_agg(x, '|' order by x)) as d from (
      select 'c' || c::text as x from sample_crm.contacts c
      union all select 'm' || m::text from sample_newsletter.members m
      union all select 'g' || g::text from sample_newsletter.member_tags g
      union all select 'a' || a::text from sample_newsletter.activity a
      union all select 'u' || u::text from sample_support.users u
    ) rows`)
  return row!.d
}

for (const embedded of [false, true]) {
  t.test(`opt-out on the sample systems (${embedded ? 'embedded' : 'Postgres'})`, async (t) => {
    const dbh = await testDb(t, { embedded })
    await ensureSampleData(dbh)
    const registry = await createRegistry(readConnectorFile(SAMPLE_CONNECTORS_FILE), { drivers, env: {}, log: quiet, serviceDatabase: dbh })
    t.ok(registry.get('newsletter')!.capabilities.includes('opt_out'), 'the sample newsletter can opt out')
    t.ok(registry.get('crm')!.capabilities.includes('opt_out'), 'the sample CRM records marketing consent')
    t.notOk(registry.get('webinar')!.capabilities.includes('opt_out'), 'a system without the setting cannot')
    const app = await build(t, { dbh, registry, env })

    const post = (body: Record<string, unknown>) =>
      app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody({ subject: { email: 'ada@example.com' }, verification: { method: 'account_login' }, ...body }) })
    const settle = (id: string) => waitFor(async () => {
      const body = (await app.inject({ url: `/v1/requests/${id}`, headers: auth() })).json()
      return ['completed', 'partially_completed', 'failed'].includes(body.status) ? body as { status: string, purposes: string[] | null, tasks: Task[] } : null
    }, 60_000, 'the request to settle')
    /** Posts the request; once the automatic tasks are done, records the manual ones (the webinar platform's) done, and waits for it to close. */
    const run = async (body: Record<string, unknown>) => {
      const res = await post(body)
      t.equal(res.statusCode, 202, 'accepted')
      const id = res.json().id as string
      const manual = await waitFor(async () => {
        const tasks = (await app.inject({ url: `/v1/requests/${id}`, headers: auth() })).json().tasks as Array<Task & { id: string }>
        const auto = tasks.filter((x) => x.status !== 'manual')
        return auto.every((x) => ['succeeded', 'failed', 'skipped'].includes(x.status)) ? tasks.filter((x) => x.status === 'manual') : null
      }, 60_000, 'the automatic tasks to finish')
      for (const task of manual) {
        const done = await app.inject({ method: 'POST', url: `/v1/requests/${id}/tasks/${task.id}/complete`, headers: auth(), payload: { outcome: 'done', note: 'Removed from invitation lists' } })
        t.ok(done.statusCode < 300, 'manual task recorded')
      }
      return settle(id)
    }
    const outcomesOf = (tasks: Task[], connector: string) => tasks.find((x) => x.connector === connector && x.action === 'opt_out')?.result?.outcomes ?? []

    const grace = await members(dbh, 'grace@example.com')
    const graceCrm = await crmConsent(dbh, 'grace@example.com')
    const before = await members(dbh, 'ada@example.com')
    t.strictSame(before, { status: 'subscribed', unsubscribed: false, share_with_partners: true, track_engagement: true, service_emails: true }, 'Ada as seeded')

    const marketing = await run({ type: 'marketing_opt_out' })
    t.equal(marketing.status, 'completed')
    t.strictSame(marketing.purposes, ['marketing'], 'a marketing opt-out stops marketing by default')
    t.strictSame(outcomesOf(marketing.tasks, 'newsletter'), [{ status: 'opted_out', stream: 'members', count: 1, purposes: ['marketing'] }])
    t.strictSame(outcomesOf(marketing.tasks, 'crm'), [{ status: 'opted_out', stream: 'contacts', count: 1, purposes: ['marketing'] }])
    t.match(marketing.tasks.find((x) => x.connector === 'webinar'), { status: 'succeeded' }, 'a system without the setting keeps its manual task')
    t.strictSame(await members(dbh, 'ada@example.com'), { ...before, status: 'unsubscribed', unsubscribed: true }, 'only the marketing column (and when) changed')
    t.strictSame(await crmConsent(dbh, 'ada@example.com'), { marketing_consent: false, withdrawn: true }, 'CRM marketing consent withdrawn, with its time')

    const sharing = await run({ type: 'marketing_opt_out', purposes: ['partner_sharing'] })
    t.equal(sharing.status, 'completed')
    t.strictSame(sharing.purposes, ['partner_sharing'])
    t.strictSame(outcomesOf(sharing.tasks, 'newsletter'), [{ status: 'opted_out', stream: 'members', count: 1, purposes: ['partner_sharing'] }])
    t.strictSame(outcomesOf(sharing.tasks, 'crm'), [], 'the CRM shares nothing with partners: nothing to stop there')
    t.strictSame(await members(dbh, 'ada@example.com'), { ...before, status: 'unsubscribed', unsubscribed: true, share_with_partners: false }, 'only partner sharing changed')

    const settled = await digest(dbh)
    const again = await run({ type: 'marketing_opt_out', purposes: ['marketing', 'partner_sharing'] })
    t.equal(again.status, 'completed')
    t.strictSame(outcomesOf(again.tasks, 'newsletter'), [{ status: 'opted_out', stream: 'members', count: 0, purposes: ['marketing', 'partner_sharing'] }], 'a re-run counts nothing')
    t.equal(await digest(dbh), settled, 'and changes nothing (not even the opt-out times)')

    const withdrawal = await run({ type: 'consent_withdrawal' })
    t.strictSame(withdrawal.purposes, ['marketing', 'partner_sharing', 'profiling'], 'a consent withdrawal stops everything done on consent')
    t.strictSame(outcomesOf(withdrawal.tasks, 'newsletter'), [{ status: 'opted_out', stream: 'members', count: 1, purposes: ['marketing', 'partner_sharing', 'profiling'] }])
    const after = await members(dbh, 'ada@example.com')
    t.equal(after.track_engagement, false, 'profiling stopped')
    t.equal(after.service_emails, true, 'transactional mail is never touched')
    t.equal((await dbh.rows(sql`select 1 from sample_newsletter.activity where member_id = 1`)).length, 2, 'nothing deleted')

    t.strictSame(await members(dbh, 'grace@example.com'), grace, 'nobody else changed')
    t.strictSame(await crmConsent(dbh, 'grace@example.com'), graceCrm)
  })
}

t.test('sample systems created before the consent columns get them on the next start, their rows kept', async (t) => {
  const dbh = await testDb(t)
  t.equal(await ensureSampleData(dbh), true)
  await dbh.executor.executeSql(`
    alter table sample_newsletter.members drop column unsubscribed_at, drop column share_with_partners, drop column track_engagement, drop column service_emails;
    alter table sample_crm.contacts drop column marketing_consent, drop column marketing_consent_withdrawn_at, drop column processing_restricted, drop column processing_restricted_at;
    delete from sample_newsletter.activity where member_id = 2; delete from sample_newsletter.member_tags where member_id = 2; delete from sample_newsletter.members where id = 2;`)
  t.equal(await ensureSampleData(dbh), false, 'not seeded again')
  const columns = await dbh.rows<{ c: string }>(sql`
    select table_schema || '.' || column_name as c from information_schema.columns
    where (table_schema, table_name) in (('sample_newsletter', 'members'), ('sample_crm', 'contacts'))
      and column_name in ('unsubscribed_at', 'share_with_partners', 'track_engagement', 'service_emails', 'marketing_consent',
        'marketing_consent_withdrawn_at', 'processing_restricted', 'processing_restricted_at')
    order by 1`)
  t.equal(columns.length, 8, 'every column the connector file names is there again')
  t.strictSame((await dbh.rows<{ id: number }>(sql`select id from sample_newsletter.members order by id`)).map((r) => Number(r.id)), [1], 'the rows as they were: the removed member stays removed')
  const registry = await createRegistry(readConnectorFile(SAMPLE_CONNECTORS_FILE), { drivers, env: {}, log: quiet, serviceDatabase: dbh })
  const out = await drain(registry.get('newsletter')!.connector.optOut!({ requestId: 'r', subject: { email: 'ada@example.com' }, signal: AbortSignal.timeout(10_000), log: quiet, purposes: ['marketing', 'partner_sharing'] }))
  t.strictSame(out, [{ status: 'opted_out', stream: 'members', count: 1, purposes: ['marketing', 'partner_sharing'] }], 'and opt-outs work on them (an added partner-sharing column starts without consent)')
})

async function drain<T> (it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}
