import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { sql } from 'drizzle-orm'
import { auth, build, testDb } from '../helper.js'
import { NO_CHILD_COVERAGE } from '../child-env.js'
import { EnvSchema } from '../../src/config.js'
import type { DbHandle } from '../../src/db/client.js'
import { runAuditVerify } from '../../src/cli/audit-verify.js'
import { redactClosedRequests } from '../../src/engine/redaction.js'
import type { AuditReport } from '../../src/audit/verify.js'
import { chainLinkHash } from '../../src/audit/chain.js'
import { ROOT, nodeArgs } from '../paths.js'

t.setTimeout(240_000)
const DAY = 86_400_000

/** The CLI as an operator runs it (`npm run audit:verify -- --json`), as a process, against the database at `url`. */
function cli (url: string, args: string[] = []): Promise<{ code: number | null, report: AuditReport | null, stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const key of Object.keys(EnvSchema.properties)) delete env[key]
  for (const key of Object.keys(env)) if (key === 'NODE_OPTIONS' || key.startsWith('TAP') || key.startsWith('_TAPJS_') || key.startsWith('TS_NODE_')) delete env[key]
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs('src/cli/audit-verify.ts'), '--json', ...args], {
      cwd: ROOT, env: { ...env, ...NO_CHILD_COVERAGE, DATABASE_URL: url, LOG_LEVEL: 'silent' }, stdio: ['ignore', 'pipe', 'pipe']
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      let report: AuditReport | null = null
      try { report = JSON.parse(stdout) as AuditReport } catch {}
      resolve({ code, report, stderr })
    })
  })
}

async function scenario (t: Test, on: 'embedded' | 'postgres', dbh: DbHandle & { url?: string }) {
  const app = await build(t, { dbh })
  let slot = Date.UTC(2030, 0, 1)
  /** One run of the audit_seal scheduled job, as the scheduler runs it. */
  const seal = async () => {
    const run = await app.scheduler.tick('audit_seal', new Date(slot += 60_000))
    t.equal(run.ran, true, 'the seal job ran')
    return run.details as { sealed: number, head_position: number, signed: boolean }
  }
  const verify = async () => {
    const res = await app.inject({ url: '/v1/audit/verify', headers: auth() })
    t.equal(res.statusCode, 200)
    return res.json() as AuditReport
  }
  const verifyRequest = async (id: string) => {
    const res = await app.inject({ url: `/v1/requests/${id}/events/verify`, headers: auth('reader') })
    t.equal(res.statusCode, 200)
    return res.json() as AuditReport
  }
  /** The CLI's report: its process on Postgres; in this process on the embedded database, which only this process can open. */
  const viaCli = async (args: string[] = []) => {
    if (on === 'postgres') {
      const run = await cli(dbh.url!, args)
      t.equal(run.stderr, '', 'the CLI wrote no error')
      return { code: run.code, report: run.report! }
    }
    let out = ''
    const code = await runAuditVerify({ dbh, config: app.config, write: (s) => { out += s } }, { json: true, ...(args[1] ? { requestId: args[1] } : {}) })
    return { code, report: JSON.parse(out) as AuditReport }
  }
  const create = async (email: string) => {
    const res = await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: { type: 'access', regime: 'gdpr', subject: { email } } })
    t.equal(res.statusCode, 202)
    return res.json().id as string
  }
  const cancel = async (id: string, reason: string) => {
    const res = await app.inject({ method: 'POST', url: `/v1/requests/${id}/cancel`, headers: auth(), payload: { reason } })
    t.equal(res.statusCode, 200)
  }

  const a = await create('ada@example.com')
  const b = await create('grace@example.com')
  await cancel(a, 'Ada withdrew it on the phone')
  await cancel(b, 'Grace withdrew it by letter')
  await app.dbh.rows(sql`insert into system_events (actor, action, details) values ('retention', 'retention_sweep', '{"total": 3}'::jsonb)`)
  const events = (await dbh.rows<{ n: number }>(sql`
    select (select count(*) from request_events)::int + (select count(*) from system_events)::int as n`))[0]!.n

  t.test(`${on}: an untouched trail verifies, with a signed head`, async (t) => {
    const before = await verify()
    t.equal(before.unsealed_events, events, 'nothing sealed before the first run')
    t.match(before, { ok: true, links_checked: 0, head: null, signed_head: null }, 'an empty chain is intact')
    const run = await seal()
    t.equal(run.sealed, events, 'the seal job sealed every event')
    t.equal(run.signed, true, 'and signed the head')
    t.equal((await seal()).signed, false, 'a run with nothing new signs nothing')
    const report = await verify()
    t.match(report, { ok: true, links_checked: events, unsealed_events: 0, first_break: null, head: { position: events } })
    t.match(report.signed_head, { position: events, verified: true, covers_head: true })
    t.equal(report.signed_head!.chain_hash, report.head!.chain_hash)
    const one = await verifyRequest(a)
    t.match(one, { ok: true, request_id: a, unsealed_events: 0, first_break: null, signed_head: { verified: true, covers_head: true } })
    t.ok(one.links_checked >= 2, `request a has ${one.links_checked} links`)
    const fromCli = await viaCli()
    t.equal(fromCli.code, 0, 'the CLI exits 0')
    t.match(fromCli.report, { ok: true, links_checked: events, signed_head: { verified: true } })
  })

  const [target] = await dbh.rows<{ id: string, actor: string }>(sql`
    select id::text, actor from request_events where request_id = ${a} and action = 'created'`)
  const targetId = Number(target!.id)

  t.test(`${on}: an SQL UPDATE of one event is reported at that event`, async (t) => {
    await dbh.rows(sql`update request_events set actor = 'mallory' where id = ${targetId}`)
    const expected = { ok: false, first_break: { kind: 'content_changed', code: 'DSR_AUDIT_CONTENT_CHANGED', source: 'request', event_id: targetId, request_id: a } }
    t.match(await verify(), expected, 'GET /v1/audit/verify')
    t.match(await verifyRequest(a), expected, 'GET /v1/requests/:id/events/verify')
    t.match(await verifyRequest(b), { ok: true }, 'the other request is intact')
    const fromCli = await viaCli()
    t.equal(fromCli.code, 1, 'the CLI exits 1')
    t.match(fromCli.report, expected, 'the CLI')
  })

  t.test(`${on}: the event put back as it was verifies again; a microsecond moved does not`, async (t) => {
    await dbh.rows(sql`update request_events set actor = ${target!.actor} where id = ${targetId}`)
    t.match(await verify(), { ok: true }, 'content put back: intact')
    // Instants are hashed at the microseconds Postgres stored: a change below the millisecond shows.
    await dbh.rows(sql`update request_events set at = at + interval '1 microsecond' where id = ${targetId}`)
    t.match(await verify(), { ok: false, first_break: { kind: 'content_changed', event_id: targetId } })
    await dbh.rows(sql`update request_events set at = at - interval '1 microsecond' where id = ${targetId}`)
    t.match(await verify(), { ok: true })
  })

  t.test(`${on}: an SQL DELETE of one event is reported at that event`, async (t) => {
    const [row] = await dbh.rows<{ id: string, position: string }>(sql`
      select id::text, chain_position::text as position from request_events where request_id = ${b} and action = 'transition'`)
    const deleted = Number(row!.id)
    await dbh.rows(sql`delete from request_events where id = ${deleted}`)
    const expected = { ok: false, first_break: { kind: 'event_missing', code: 'DSR_AUDIT_EVENT_MISSING', position: Number(row!.position), source: 'request', event_id: deleted, request_id: b } }
    t.match(await verify(), expected, 'GET /v1/audit/verify')
    t.match(await verifyRequest(b), expected, 'GET /v1/requests/:id/events/verify')
    const fromCli = await viaCli(['--request', b])
    t.equal(fromCli.code, 1, 'the CLI exits 1')
    t.match(fromCli.report, expected, 'the CLI, for the request')
    const whole = await viaCli()
    t.match(whole.report, expected, 'the CLI, for the service')
  })

  t.test(`${on}: a deleted link, an edited link, a rewritten chain, a forged head`, async (t) => {
    // Start from an intact trail again: a fresh chain over what is there now.
    await dbh.rows(sql`delete from audit_chain`)
    await dbh.rows(sql`delete from audit_heads`)
    await dbh.rows(sql`update request_events set chain_position = null`)
    await dbh.rows(sql`update system_events set chain_position = null`)
    await seal()
    t.match(await verify(), { ok: true })

    await dbh.rows(sql`update audit_chain set request_hash = repeat('0', 64) where position = 2`)
    t.match(await verify(), { ok: false, first_break: { kind: 'link_changed', position: 2 } }, 'an edited link')
    const [link] = await dbh.rows<Record<string, unknown>>(sql`select * from audit_chain where position = 2`)
    await dbh.rows(sql`delete from audit_chain where position = 2`)
    t.match(await verify(), { ok: false, first_break: { kind: 'link_missing', position: 2 } }, 'a deleted link')
    // Put it back, its hash recomputed: the next link no longer follows... unless everything after is recomputed too.
    const links = await dbh.rows<{ position: string, source: 'request' | 'system', event_id: string, request_id: string | null, content_hash: string, request_hash: string | null }>(sql`
      select position::text, source, event_id::text, request_id, content_hash, request_hash from audit_chain order by position`)
    await dbh.rows(sql`insert into audit_chain (position, source, event_id, request_id, content_hash, request_hash, chain_hash)
      values (2, ${link!.source as string}, ${Number(link!.event_id)}, ${link!.request_id as string | null}, ${link!.content_hash as string}, ${link!.request_hash as string}, ${link!.chain_hash as string})`)
    links.splice(1, 0, { position: '2', source: link!.source as 'request', event_id: String(link!.event_id), request_id: link!.request_id as string, content_hash: link!.content_hash as string, request_hash: link!.request_hash as string })
    let previous: string | null = null
    for (const l of links) {
      previous = chainLinkHash(previous, { position: Number(l.position), source: l.source, eventId: Number(l.event_id), requestId: l.request_id, contentHash: l.content_hash, requestHash: l.request_hash })
      await dbh.rows(sql`update audit_chain set chain_hash = ${previous} where position = ${Number(l.position)}`)
    }
    t.match(await verify(), { ok: false, first_break: { kind: 'head_mismatch', code: 'DSR_AUDIT_HEAD_MISMATCH', position: links.length } },
      'a chain rewritten consistently from an edited link on differs from the signed head')
    await dbh.rows(sql`update audit_heads set chain_hash = ${previous}`)
    t.match(await verify(), { ok: false, first_break: { kind: 'signature_invalid' }, signed_head: { verified: false } }, 'a head edited to match does not verify')
  })

  t.test(`${on}: redaction rewrites events without breaking the trail; other edits of their text still show`, async (t) => {
    await dbh.rows(sql`delete from audit_chain`)
    await dbh.rows(sql`delete from audit_heads`)
    await dbh.rows(sql`update request_events set chain_position = null`)
    await dbh.rows(sql`update system_events set chain_position = null`)
    await seal()
    t.match(await verify(), { ok: true })
    const salted = await dbh.rows<{ n: number }>(sql`select count(*)::int as n from request_events where text_salt is not null and reason is not null`)
    t.equal(salted[0]!.n, 1, 'the reason left (b\'s was deleted above) is hashed with a salt')
    const result = await redactClosedRequests(dbh, { now: new Date(Date.now() + 200 * DAY), retentionDays: 90 })
    t.equal(result.redacted, 2)
    const [reason] = await dbh.rows<{ id: string, reason: string }>(sql`select id::text, reason from request_events where request_id = ${a} and action = 'transition'`)
    t.equal(reason!.reason, '[redacted]', 'the reason is gone')
    const [salt] = await dbh.rows<{ text_salt: string | null }>(sql`select text_salt from request_events where id = ${Number(reason!.id)}`)
    t.equal(salt!.text_salt, null, 'and the salt of its hash with it: the hash left cannot be tested against guesses')
    t.match(await verify(), { ok: true, unsealed_events: 3 }, 'redacted, sealed and unsealed events all verify (two redaction events, one system event)')
    t.match(await verifyRequest(a), { ok: true })
    await seal()
    t.match(await verify(), { ok: true, unsealed_events: 0 })
    await dbh.rows(sql`update request_events set reason = 'Ada never asked' where id = ${Number(reason!.id)}`)
    t.match(await verify(), { ok: false, first_break: { kind: 'content_changed', event_id: Number(reason!.id) } }, 'any other text is a change')
    await dbh.rows(sql`update request_events set reason = '[redacted]' where id = ${Number(reason!.id)}`)
  })

  t.test(`${on}: an event is protected from the run that seals it on, not before`, async (t) => {
    const c = await create('alan@example.com')
    const [ev] = await dbh.rows<{ id: string }>(sql`select id::text from request_events where request_id = ${c}`)
    t.match(await verifyRequest(c), { ok: true, links_checked: 0, unsealed_events: 1 }, 'written, not sealed yet')
    // An edit before the seal run is sealed as edited: nothing had been recorded of the event yet (README).
    await dbh.rows(sql`update request_events set details = '{"edited": true}'::jsonb where id = ${Number(ev!.id)}`)
    await seal()
    t.match(await verifyRequest(c), { ok: true, links_checked: 1, unsealed_events: 0 })
    await dbh.rows(sql`update request_events set details = null where id = ${Number(ev!.id)}`)
    const expected = { ok: false, first_break: { kind: 'content_changed', event_id: Number(ev!.id), request_id: c } }
    t.match(await verify(), expected, 'an edit after it is reported')
    t.match(await verifyRequest(c), expected)
    await dbh.rows(sql`update request_events set details = '{"edited": true}'::jsonb where id = ${Number(ev!.id)}`)
    t.match(await verify(), { ok: true }, 'put back: intact')
  })

  t.test(`${on}: a request with no event and no row is 404`, async (t) => {
    const res = await app.inject({ url: '/v1/requests/00000000-0000-4000-8000-000000000000/events/verify', headers: auth() })
    t.equal(res.statusCode, 404)
    t.equal(res.json().code, 'DSR_REQUEST_NOT_FOUND')
  })
}

t.test('the audit trail on the embedded database', async (t) => scenario(t, 'embedded', await testDb(t, { embedded: true })))

t.test('the audit trail on Postgres', { skip: process.env.DATABASE_URL ? false : 'DATABASE_URL is not set' }, async (t) => {
  const dbh = await testDb(t)
  await scenario(t, 'postgres', dbh)

  t.test('an event committed late, with a lower id than events already sealed, is sealed by the next run', async (t) => {
    const app = await build(t, { dbh })
    await app.scheduler.tick('audit_seal', new Date(Date.UTC(2031, 0, 1)))
    if (dbh.raw.kind !== 'postgres') throw new Error('expected Postgres')
    const requestId = (await dbh.rows<{ id: string }>(sql`select id from requests limit 1`))[0]!.id
    const slow = await dbh.raw.sql.reserve()
    t.teardown(() => slow.release())
    await slow.unsafe('begin')
    const [early] = await slow.unsafe('insert into request_events (request_id, actor, action) values ($1, \'test\', \'early\') returning id::text', [requestId])
    const [late] = await dbh.rows<{ id: string }>(sql`insert into request_events (request_id, actor, action) values (${requestId}, 'test', 'late') returning id::text`)
    t.ok(Number(early!.id) < Number(late!.id), 'the open transaction holds the lower id')
    await app.scheduler.tick('audit_seal', new Date(Date.UTC(2031, 0, 1, 0, 1)))
    const sealed = await dbh.rows<{ id: string, chain_position: string | null }>(sql`
      select id::text, chain_position::text from request_events where action = 'late'`)
    t.not(sealed[0]!.chain_position, null, 'the committed event is sealed')
    await slow.unsafe('commit')
    t.match(await (await app.inject({ url: '/v1/audit/verify', headers: auth() })).json(), { ok: true, unsealed_events: 1 }, 'the late event waits, intact')
    await app.scheduler.tick('audit_seal', new Date(Date.UTC(2031, 0, 1, 0, 2)))
    const [row] = await dbh.rows<{ chain_position: string }>(sql`select chain_position::text from request_events where id = ${Number(early!.id)}`)
    t.ok(Number(row!.chain_position) > Number(sealed[0]!.chain_position), 'sealed after the event with the higher id')
    t.match(await (await app.inject({ url: '/v1/audit/verify', headers: auth() })).json(), { ok: true, unsealed_events: 0, signed_head: { verified: true, covers_head: true } })
  })
})
