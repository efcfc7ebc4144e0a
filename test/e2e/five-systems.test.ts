import { pathToFileURL } from 'node:url'
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync, readdirSync } from 'node:fs'
import t from 'tap'
import postgres from 'postgres'
import { sql } from 'drizzle-orm'
import { auth, build, requestBody, testDb, waitFor } from '../helper.js'
import { readZip } from '../archive/fixtures.js'
import { createRegistry, parseConnectorFile } from '../../src/connectors/registry.js'
import { drivers } from '../../connectors/index.js'
import { REPORT_RETAINED_REASON } from '../../connectors/zoom/index.js'
import { KEPT_REASON } from '../../connectors/hubspot/erase.js'
import { ATTACHMENT_BYTES } from '../fakes/zendesk.js'
import { md5 } from '../fakes/mailchimp.js'
import { startVendorFakes } from '../fakes/vendors.js'
import { fromRoot } from '../paths.js'

/**
 * The service against all five kinds of system at once, configured the way a company would
 * configure it: the vendor entries of connectors/samples/vendors.json (addresses and secrets from
 * the environment) and the shipped test-result store (connectors/test-results: its connector.json,
 * migrations and sample data). Every fake answers half of all calls with its vendor's 429.
 *
 * Ada (ada@example.com) is in all five: two HubSpot contacts (one lists her address as an additional
 * e-mail), a Zendesk user with three tickets and two attachments, three Mailchimp audiences, four Zoom
 * registrations plus attendance, a question and a poll answer, and quiz results. Grace, Alan, guests,
 * and "Ada Lovelace-Byron" (a different person whose address shares Ada's prefix) are there too.
 */

const ADA = 'ada@example.com'
/** Her other addresses, found through the first: they must go too. */
const ADA_ALSO = ['ada.lovelace@work.example', 'countess@old.example']
const quiet = { debug () {}, info () {}, warn () {}, error () {} }
const ROOT = pathToFileURL(fromRoot('/'))
const env = { TASK_POLL_SECONDS: '0.5', TASK_RETRY_BASE_MS: '200', LOG_LEVEL: 'silent' }

const dbh = await testDb(t)

// The test-result store: its own database on the Postgres server when there is one, else a schema
// of the embedded database (the connector's `embedded:` address).
const testResults = await (async () => {
  const migrations = new URL('connectors/test-results/migrations/', ROOT)
  const files = [...readdirSync(migrations).filter((f) => /^\d{4}_.+\.sql$/.test(f)).sort().map((f) => new URL(f, migrations)), new URL('connectors/test-results/sample-data.sql', ROOT)]
  if (!dbh.url) {
    for (const f of files) await dbh.executor.executeSql(readFileSync(f, 'utf8'))
    return { url: 'embedded:', query: <T>(q: string) => dbh.executor.executeSql(q).then((r) => r.rows as T[]) }
  }
  const name = `dsr_e2e_results_${randomBytes(6).toString('hex')}`
  const admin = postgres(process.env.DATABASE_URL!, { max: 1, onnotice: () => {} })
  await admin.unsafe(`create database ${name}`)
  const url = new URL(process.env.DATABASE_URL!)
  url.pathname = `/${name}`
  const store = postgres(url.toString(), { max: 2, onnotice: () => {} })
  for (const f of files) await store.unsafe(readFileSync(f, 'utf8'))
  t.teardown(async () => {
    await store.end()
    await admin.unsafe(`drop database if exists ${name} with (force)`)
    await admin.end()
  })
  return { url: url.toString(), query: <T>(q: string) => store.unsafe(q) as unknown as Promise<T[]> }
})()

const fakes = await startVendorFakes({ fail429Ratio: 0.5 })
const { hubspot, zendesk, mailchimp, zoom } = fakes
t.teardown(fakes.close)

// The vendor entries of the sandbox file (its test-result entry is the embedded sample; here it is the shipped store).
const vendors = (JSON.parse(readFileSync(new URL('connectors/samples/vendors.json', ROOT), 'utf8')) as { connectors: Array<{ driver: string }> })
  .connectors.filter((c) => c.driver !== 'postgres')
const store = JSON.parse(readFileSync(new URL('connectors/test-results/connector.json', ROOT), 'utf8')) as unknown
const registry = await createRegistry(parseConnectorFile({ connectors: [...vendors, store] }), {
  drivers,
  log: quiet,
  serviceDatabase: dbh,
  env: { ...fakes.env, TEST_RESULTS_DATABASE_URL: testResults.url }
})
const app = await build(t, { dbh, registry, env })
const SYSTEMS = ['crm', 'newsletter', 'support', 'test_results', 'webinar']

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex')
const isAda = (email: unknown) => typeof email === 'string' && [ADA, ...ADA_ALSO].includes(email.trim().toLowerCase())

interface Task {
  connector: string
  status: string
  attempts: number
  result?: { outcomes?: Array<{ status: string, stream: string, reason?: string, count?: number }>, verification?: { status: string, checks: number, retained?: Record<string, number>, residue?: Record<string, number> } }
}
const settle = async (id: string) => {
  let last: unknown
  try {
    return await waitFor(async () => {
      const body = (await app.inject({ url: `/v1/requests/${id}`, headers: auth() })).json()
      last = body
      return ['completed', 'partially_completed', 'failed'].includes(body.status) ? body as { status: string, tasks: Task[], archive: { status: string } | null } : null
    }, 240_000, 'the request to settle')
  } catch (err) {
    t.comment(`last seen: ${JSON.stringify((last as { tasks?: unknown })?.tasks)}`)
    throw err
  }
}

const submit = async (type: string) => {
  const res = await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody({ type, subject: { email: ADA }, verification: { method: 'account_login' } }) })
  if (res.statusCode !== 202) throw new Error(`request not created: ${res.body}`)
  return res.json().id as string
}

/** Calls answered, 429s injected, and limit violations by our client, per fake. */
function traffic () {
  return {
    hubspot: { calls: hubspot.state.calls, injected429: hubspot.state.injected429, violations: hubspot.state.violations },
    zendesk: { calls: zendesk.state.calls, injected429: zendesk.state.injected429, violations: zendesk.state.violations },
    mailchimp: { calls: mailchimp.state.calls.length, injected429: mailchimp.state.injected429, violations: mailchimp.state.violations },
    // The OAuth token endpoint is not rate limited, nor faulted.
    zoom: { calls: zoom.state.calls.filter((c) => c.path !== '/oauth/token').length, injected429: zoom.state.injected429, violations: zoom.state.violations }
  }
}

/** Everything the five systems hold about people other than Ada, to compare before and after. */
async function everyoneElse () {
  const hubspotContacts = [...hubspot.state.contacts.values()].filter((c) => !isAda(c.properties.email) && !(c.properties.hs_additional_emails ?? '').split(';').some(isAda))
  const linked = (type: string) => hubspotContacts.flatMap((c) => hubspot.state.associations.get(c.id)?.get(type) ?? [])
  return JSON.stringify({
    hubspot: {
      contacts: hubspotContacts,
      associated: Object.fromEntries(['companies', 'deals', 'notes'].map((type) => [type, linked(type).map((id) => hubspot.state.objects[type]!.get(id))]))
    },
    zendesk: {
      users: [...zendesk.state.users.values()].filter((u) => u.id !== 11),
      tickets: [...zendesk.state.tickets.values()].filter((x) => x.requester_id !== 11)
    },
    mailchimp: [...mailchimp.state.lists.values()].map((l) => [l.id, [...l.members.entries()].filter(([hash]) => hash !== md5(ADA))]),
    zoom: zoom.state.webinars.map((w) => ({ ...w, registrants: w.registrants.filter((r) => !isAda(r.email)) })),
    testResults: await testResults.query(`
      select 'p' as k, row_to_json(p)::text as v from test_results.respondents p where lower(email) <> '${ADA}'
      union all select 'r', row_to_json(r)::text from test_results.results r join test_results.respondents p on p.id = r.respondent_id where lower(p.email) <> '${ADA}'
      union all select 's', row_to_json(s)::text from test_results.result_recipients s where lower(email) <> '${ADA}'
        and result_id not in (select r.id from test_results.results r join test_results.respondents p on p.id = r.respondent_id where lower(p.email) = '${ADA}')
      order by 1, 2`)
  })
}

const countResults = async () => (await testResults.query<{ n: string }>(`
  select (select count(*) from test_results.respondents where lower(email) = '${ADA}')
       + (select count(*) from test_results.results r join test_results.respondents p on p.id = r.respondent_id where lower(p.email) = '${ADA}')
       + (select count(*) from test_results.result_recipients where lower(email) = '${ADA}') as n`))[0]!.n

const before = await everyoneElse()
t.equal(Number(await countResults()), 6, 'the test-result store holds Ada\'s respondent row, two results and three recipient rows')

t.test('access: the archive holds Ada\'s data from all five systems, while every fake answers half its calls with 429', async (t) => {
  const id = await submit('access')
  const done = await settle(id)
  t.equal(done.status, 'completed', 'the access request completes')
  t.strictSame(done.tasks.map((x) => x.connector).sort(), SYSTEMS)
  t.ok(done.tasks.every((x) => x.status === 'succeeded'), 'every connector\'s task succeeded')

  const seen = traffic()
  t.comment(`traffic during access: ${JSON.stringify(seen)}`)
  for (const [vendor, { calls, injected429 }] of Object.entries(seen)) {
    t.ok(calls >= 10 && injected429 / calls > 0.3 && injected429 / calls < 0.7, `${vendor}: ${injected429} of ${calls} calls answered 429`)
  }
  t.strictSame([seen.hubspot.violations, seen.zendesk.violations, seen.mailchimp.violations, seen.zoom.violations], [0, 0, 0, 0],
    'no fake recorded a rate-limit violation by our client')

  const request = await waitFor(async () => {
    const body = (await app.inject({ url: `/v1/requests/${id}`, headers: auth() })).json()
    if (body.archive?.status === 'failed') throw new Error('the archive build failed')
    return body.archive?.status === 'ready' ? body : null
  }, 60_000, 'the archive')
  const download = await app.inject({ url: `/v1/requests/${id}/archive`, headers: auth() })
  t.equal(download.statusCode, 200)
  t.equal(sha256(download.rawPayload), request.archive.sha256, 'the download is the archive the request names')
  const entries = await readZip(download.rawPayload)
  const manifest = JSON.parse(entries.get('manifest.json')!.data.toString('utf8')) as { files: Array<{ path: string, connector: string | null, stream: string | null, kind: string, records: number | null }> }
  const records = (connector: string, stream: string) => manifest.files.find((f) => f.connector === connector && f.stream === stream && f.kind === 'records')?.records ?? 0
  t.strictSame([...new Set(manifest.files.map((f) => f.connector).filter(Boolean))].sort(), SYSTEMS, 'files from all five systems')

  t.equal(records('crm', 'contacts'), 2, 'HubSpot: both of her contacts (one by additional e-mail)')
  t.ok(['companies', 'deals', 'tickets', 'notes', 'emails', 'calls', 'meetings'].every((s) => records('crm', s) > 0), 'HubSpot: every associated object type')
  t.equal(records('support', 'users'), 1, 'Zendesk: her user, not Ada Lovelace-Byron')
  t.equal(records('support', 'tickets'), 3, 'Zendesk: her three tickets')
  const attachments = manifest.files.filter((f) => f.connector === 'support' && f.kind === 'attachment')
  t.equal(attachments.length, 2, 'Zendesk: both attachments, as files')
  const png = attachments.find((f) => f.path.endsWith('.png'))
  t.ok(png && entries.get(png.path)!.data.equals(ATTACHMENT_BYTES), 'the 70 KB image arrives byte for byte')
  t.equal(records('newsletter', 'members'), 3, 'Mailchimp: her three audiences')
  t.ok(records('newsletter', 'activity') > 0 && records('newsletter', 'tags') > 0, 'Mailchimp: tags and activity')
  t.equal(records('webinar', 'registrations'), 4, 'Zoom: four registrations in every status')
  t.ok(['attendance', 'qa', 'polls'].every((s) => records('webinar', s) === 1), 'Zoom: her attendance, question and poll answer')
  t.equal(records('test_results', 'respondents'), 1)
  t.equal(records('test_results', 'results'), 2, 'her quiz and her dialogue simulation')
  t.ok(records('test_results', 'result_recipients') >= 3, 'every address her results went to, and the result sent to her')

  const zip = download.rawPayload
  t.notOk(['grace@example.com', 'alan@example.com', 'ada.byron@example.com', 'guest1-0@example.org'].some((e) => zip.includes(Buffer.from(e))) ||
    [...entries.values()].some((e) => /grace@|alan@|ada\.byron@|guest\d/i.test(e.data.toString('latin1'))), 'nothing of anyone else')
})

t.test('erasure: nothing of Ada is left in the five systems, everyone else is untouched, Zoom reports are retained with the reason', async (t) => {
  const id = await submit('erasure')
  const done = await settle(id)
  t.equal(done.status, 'completed', 'the erasure completes')
  t.ok(done.tasks.every((x) => x.status === 'succeeded'), 'every connector\'s task succeeded')
  const seen = traffic()
  t.comment(`traffic after erasure: ${JSON.stringify(seen)}`)
  t.strictSame([seen.hubspot.violations, seen.zendesk.violations, seen.mailchimp.violations, seen.zoom.violations], [0, 0, 0, 0], 'still no rate-limit violation')

  // HubSpot: both contacts gone, and the activity logged on them only.
  t.notOk([...hubspot.state.contacts.values()].some((c) => isAda(c.properties.email) || (c.properties.hs_additional_emails ?? '').split(';').some(isAda)), 'HubSpot: no contact of hers')
  t.notOk(hubspot.state.associations.has('101') || hubspot.state.associations.has('102'), 'HubSpot: no associations of hers')
  t.notOk(['notes', 'emails', 'calls', 'meetings'].some((type) => JSON.stringify([...hubspot.state.objects[type]!.values()]).includes('Ada')), 'HubSpot: no engagement about her')
  const crm = done.tasks.find((x) => x.connector === 'crm')!
  t.strictSame(crm.result?.outcomes?.map((o) => [o.status, o.stream, o.count]), [['erased', 'contacts', 2], ['retained', 'companies', 1], ['retained', 'deals', 2], ['retained', 'tickets', 1]],
    'HubSpot: both contacts erased; the company, deals and ticket they were linked to are reported as kept, unlinked')
  t.ok(crm.result?.outcomes?.filter((o) => o.status === 'retained').every((o) => o.reason === KEPT_REASON), 'with the reason')
  // Zendesk: tickets deleted then purged, user soft-deleted then purged.
  const at = (entry: string) => zendesk.state.log.indexOf(entry)
  t.ok([101, 102, 103].every((n) => at(`delete ticket ${n}`) >= 0 && at(`purge ticket ${n}`) > at(`delete ticket ${n}`) && at(`purge ticket ${n}`) < at('soft-delete user 11')) &&
    at('purge user 11') > at('soft-delete user 11'), 'Zendesk: her tickets deleted and purged, then the user soft-deleted, then deleted for good')
  t.equal(zendesk.state.users.get(11)!.state, 'purged')
  t.notOk(JSON.stringify([...zendesk.state.users.values(), ...zendesk.state.tickets.values()]).match(/ada@example\.com|countess@|Ada Lovelace"|engine\.png|notes\.txt/), 'Zendesk: nothing of hers')
  // Mailchimp: deleted for good from every audience (Mailchimp keeps the hash only, to refuse re-import).
  t.notOk([...mailchimp.state.lists.values()].some((l) => l.members.has(md5(ADA))), 'Mailchimp: in no audience')
  t.strictSame([...mailchimp.state.forgotten.entries()].filter(([, set]) => set.has(md5(ADA))).map(([list]) => list), ['aud00001', 'aud00003', 'aud00005'],
    'Mailchimp: permanently deleted (delete-permanent), not archived')
  // Zoom: registrations deleted; report data stays and is reported as retained with the reason.
  t.notOk(zoom.state.webinars.some((w) => w.registrants.some((r) => isAda(r.email))), 'Zoom: no registration of hers')
  const webinar = done.tasks.find((x) => x.connector === 'webinar')!
  t.strictSame(webinar.result?.outcomes?.filter((o) => o.status === 'retained').map((o) => [o.stream, o.reason]),
    ['attendance', 'qa', 'polls'].map((s) => [s, REPORT_RETAINED_REASON]), 'Zoom report data is shown as retained, with the reason')
  t.ok(JSON.stringify(zoom.state.webinars[0]!.report).includes(ADA), 'the report data is indeed still at Zoom (no API can delete it)')
  // The test-result store.
  t.equal(Number(await countResults()), 0, 'test results: nothing of hers')

  t.equal(await everyoneElse(), before, 'everyone else\'s data in all five systems is exactly as before')

  // Each system was searched again after it erased, the way its vendor answers (HubSpot's search and
  // direct read, Zendesk's user search, Mailchimp's member read, Zoom's lists): nothing of hers but what was retained.
  for (const task of done.tasks) t.match(task.result?.verification, { status: 'verified', residue: undefined }, `${task.connector}: searched again, nothing left`)
  t.strictSame(webinar.result?.verification?.retained, { attendance: 1, qa: 1, polls: 1 }, 'Zoom: the search still finds the report data, which the erasure said it retained')
})

t.test('the audit trail of both requests, written by intake, the workers and the archive builder, seals and verifies', async (t) => {
  const n = (await dbh.rows<{ n: number }>(sql`
    select (select count(*) from request_events)::int + (select count(*) from system_events)::int as n`))[0]!.n
  t.ok(n > 10, `${n} audit events`)
  const run = await app.scheduler.tick('audit_seal', new Date(Date.UTC(2030, 0, 1)))
  t.match(run.details, { sealed: n, signed: true }, 'the seal job sealed every event and signed the head')
  const report = (await app.inject({ url: '/v1/audit/verify', headers: auth() })).json()
  t.match(report, { ok: true, links_checked: n, unsealed_events: 0, first_break: null, signed_head: { position: n, verified: true } })
})
