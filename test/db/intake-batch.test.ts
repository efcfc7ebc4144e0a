import t from 'tap'
import { randomUUID } from 'node:crypto'
import { sql } from 'drizzle-orm'
import { auth, build, requestBody, testDb } from '../helper.js'
import { createRequestsRepository, type NewRequestRow } from '../../src/db/repositories/requests-repository.js'

// Intake group commit: requests arriving together are stored in one statement. Each must still be
// stored exactly once with its own audit event, idempotency must hold inside a batch, and a row the
// database refuses must fail alone.
for (const embedded of [false, true]) {
  const where = embedded ? 'embedded' : 'Postgres'
  if (!embedded && !process.env.DATABASE_URL) {
    t.test(`intake batches on ${where}`, { skip: 'DATABASE_URL is not set' }, () => {})
    continue
  }

  t.test(`concurrent intake on ${where}: one statement, every request once, idempotency kept`, async (t) => {
    const app = await build(t, { dbh: await testDb(t, { embedded }) })
    const post = (body: Record<string, unknown>, headers: Record<string, string> = auth('writer')) =>
      app.inject({ method: 'POST', url: '/v1/requests', headers, payload: body })
    const keyed = { ...auth('writer'), 'idempotency-key': 'batch-key' }
    const same = requestBody({ notes: 'same body' })

    const results = await Promise.all([
      ...Array.from({ length: 30 }, (_, i) => post(requestBody({ subject: { email: `p${i}@example.com` } }))),
      ...Array.from({ length: 6 }, () => post(same, keyed))
    ])
    t.strictSame(results.map((r) => r.statusCode), Array(36).fill(202))
    const distinct = results.slice(0, 30).map((r) => r.json().id)
    t.equal(new Set(distinct).size, 30, '30 distinct requests')
    const replayed = results.slice(30)
    t.equal(new Set(replayed.map((r) => r.json().id)).size, 1, 'the six with one key and body are one request')
    t.equal(replayed.filter((r) => r.headers['idempotent-replayed'] === 'true').length, 5, 'five of them are replays')
    const other = await post(requestBody({ notes: 'another body' }), keyed)
    t.equal(other.statusCode, 422)
    t.equal(other.json().code, 'DSR_IDEMPOTENCY_KEY_REUSED')

    const [stored] = await app.dbh.rows<{ rows: number, commits: number, events: number, lonely: number }>(sql`
      select count(*)::int as rows, count(distinct r.xmin::text)::int as commits,
        (select count(*)::int from request_events e where e.action = 'created') as events,
        (select count(*)::int from requests r2 where (select count(*) from request_events e
          where e.request_id = r2.id and e.action = 'created' and e.actor = r2.created_by) <> 1) as lonely
      from requests r`)
    t.equal(stored!.rows, 31, 'one row per request')
    t.equal(stored!.events, 31, 'one created event per request')
    t.equal(stored!.lonely, 0, 'every request has exactly one created event, by its creator')
    t.ok(stored!.commits < 31, `stored in fewer commits than requests (${stored!.commits} for 31)`)
    const seqs = await app.dbh.rows<{ id: string }>(sql`select id from requests order by seq`)
    t.equal(new Set(seqs.map((r) => r.id)).size, 31, 'each has its own place in the insertion order')
  })

  t.test(`a row the database refuses on ${where} fails alone`, async (t) => {
    const dbh = await testDb(t, { embedded })
    const repo = createRequestsRepository(dbh)
    const row = (over: Partial<NewRequestRow> = {}): NewRequestRow => {
      const at = new Date()
      return {
        id: randomUUID(),
        type: 'access',
        status: 'received',
        regime: 'gdpr',
        subject: { email: 'x@example.com' },
        requester: { kind: 'subject' },
        channel: 'api',
        timeZone: 'UTC',
        receivedAt: at,
        dueAt: at,
        deadlineRule: 'test',
        createdBy: 'test',
        createdAt: at,
        updatedAt: at,
        ...over
      } as NewRequestRow
    }
    const good = [row(), row(), row()]
    const bad = row({ type: 'no_such_type' as NewRequestRow['type'] })
    const outcomes = await Promise.allSettled([repo.insert(good[0]!, 'test'), repo.insert(bad, 'test'), repo.insert(good[1]!, 'test'), repo.insert(good[2]!, 'test')])
    t.strictSame(outcomes.map((o) => o.status), ['fulfilled', 'rejected', 'fulfilled', 'fulfilled'])
    t.strictSame(outcomes.filter((o) => o.status === 'fulfilled').map((o) => (o as PromiseFulfilledResult<unknown>).value !== null), [true, true, true])
    const ids = (await dbh.rows<{ id: string }>(sql`select id from requests order by seq`)).map((r) => r.id).sort()
    t.strictSame(ids, good.map((g) => g.id).sort(), 'the three good rows are stored, the refused one is not')
    const [events] = await dbh.rows<{ n: number }>(sql`select count(*)::int as n from request_events`)
    t.equal(events!.n, 3, 'and only their events')
  })
}
