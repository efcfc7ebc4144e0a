import t, { type Test } from 'tap'
import { sql } from 'drizzle-orm'
import PgBoss from 'pg-boss'
import { testDb } from '../helper.js'
import { sqlClientOfService } from '../../connectors/postgres/sql-client.js'
import { createBoss } from '../../src/jobs/queue.js'
import type { DbHandle } from '../../src/db/client.js'

/**
 * Raw SQL returns the same types from Postgres (postgres.js) and the embedded database (PGlite),
 * through every path: the app's rows and prepared statements, inside and outside transactions,
 * pg-boss's executor, and the postgres connector's client. A timestamp that was a Date on one and a
 * string on the other once made every scheduled job fail on Postgres alone.
 */
const QUERY = `select timestamptz '2026-12-01 22:38:49.764+00' as tz, timestamp '2026-12-01 22:38:49.764' as ts,
  date '2026-12-01' as d, 12345678901234567::int8 as i8, 3::int4 as i4, 1.50::numeric as num,
  '{"a":1}'::jsonb as j, array[timestamptz '2026-12-01 00:00:00+00', null] as tzs, true as b, null::timestamptz as none`
const INSTANT = Date.UTC(2026, 11, 1, 22, 38, 49, 764)

function check (t: Test, path: string, row: Record<string, unknown> | undefined) {
  t.ok(row?.tz instanceof Date && row.tz.getTime() === INSTANT, `${path}: timestamptz is a Date of that instant`)
  t.ok(row?.ts instanceof Date && row.ts.getTime() === INSTANT, `${path}: timestamp (no zone) is a Date, read as UTC`)
  t.equal(row?.d, '2026-12-01', `${path}: a date is its day, as text`)
  t.equal(row?.i8, '12345678901234567', `${path}: int8 is exact, as text`)
  t.equal(row?.i4, 3, `${path}: int4 is a number`)
  t.equal(row?.num, '1.50', `${path}: numeric is exact, as text`)
  t.strictSame(row?.j, { a: 1 }, `${path}: jsonb is parsed`)
  const tzs = row?.tzs as unknown[] | undefined
  t.ok(Array.isArray(tzs) && tzs[0] instanceof Date && (tzs[0] as Date).getTime() === Date.UTC(2026, 11, 1), `${path}: timestamptz[] holds Dates`)
  t.equal(row?.b, true, `${path}: boolean`)
  t.equal(row?.none, null, `${path}: null stays null`)
}

async function everyPath (t: Test, dbh: DbHandle) {
  check(t, 'rows', (await dbh.rows(sql.raw(QUERY)))[0])
  check(t, 'prepared', (await dbh.prepared(QUERY, []))[0])
  check(t, 'executor, no parameters', (await dbh.executor.executeSql(QUERY)).rows[0])
  check(t, 'executor, parameters', (await dbh.executor.executeSql(`${QUERY} where $1::int = 1`, [1])).rows[0])
  await dbh.transaction(async (tx) => {
    check(t, 'transaction rows', (await tx.rows(sql.raw(QUERY)))[0])
    check(t, 'transaction executor', (await tx.executor.executeSql(`${QUERY} where $1::int = 1`, [1])).rows[0])
  })
  const connector = sqlClientOfService(dbh.raw)
  check(t, 'postgres connector query', (await connector.query(QUERY, [])).rows[0])
  for await (const batch of connector.cursor(QUERY, [], 10)) check(t, 'postgres connector cursor', batch[0])

  // pg-boss reads its jobs through the executor: a job's createdOn must be a Date.
  const boss = createBoss(dbh, { supervise: false, schedule: false })
  await boss.start()
  t.teardown(async () => { await boss.stop({ graceful: false, wait: true }); await boss.releaseConnection() })
  await boss.createQueue('types_probe')
  await boss.send('types_probe', { n: 1 })
  const [job] = await boss.fetch<{ n: number }>('types_probe', { includeMetadata: true }) as Array<PgBoss.JobWithMetadata<{ n: number }>>
  t.ok(job?.createdOn instanceof Date && Math.abs(job.createdOn.getTime() - Date.now()) < 60_000, 'pg-boss job createdOn is a Date of about now')
  t.strictSame(job?.data, { n: 1 })
}

t.test('the same types on this database (DATABASE_URL: Postgres; otherwise embedded)', async (t) => everyPath(t, await testDb(t)))
if (process.env.DATABASE_URL) t.test('and on the embedded database', async (t) => everyPath(t, await testDb(t, { embedded: true })))
