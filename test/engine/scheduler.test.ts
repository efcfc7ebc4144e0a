import t from 'tap'
import { sql } from 'drizzle-orm'
import { build, testDb } from '../helper.js'
import { openDb } from '../../src/db/client.js'

t.test('two instances on one database: every scheduled job runs once per period', async (t) => {
  const dbh = await testDb(t)
  // Real Postgres: a second connection pool, as a second process would have. PGlite lives in this process: shared.
  const dbh2 = dbh.url ? await openDb({ url: dbh.url }) : dbh
  if (dbh2 !== dbh) t.teardown(() => dbh2.close())
  const env = { TASK_POLL_SECONDS: '0.5', SCHEDULER_ENABLED: 'true' }
  const a = await build(t, { dbh, env })
  const b = await build(t, { dbh: dbh2, env })
  t.not(a.engine.worker, b.engine.worker)

  const schedules = await dbh.rows<{ name: string, cron: string }>(sql`select name, cron from pgboss.schedule order by name`)
  t.strictSame(schedules.map((s) => s.name), a.scheduler.jobs.map((j) => `dsr_cron_${j.name}`).sort(),
    'one pg-boss cron schedule per job, however many instances started')
  t.ok(['archive_expiry', 'connector_health', 'deadline_monitor', 'request_redaction', 'retention_sweep'].every((n) => a.scheduler.jobs.some((j) => j.name === n)),
    'the health, retention, archive expiry, deadline and redaction jobs are among them')

  const names = a.scheduler.jobs.map((j) => j.name)
  const base = Math.floor(Date.now() / 60_000) * 60_000 + 3_600_000
  const slots = [0, 1, 2, 3, 4].map((i) => new Date(base + i * 60_000))
  let ran = 0
  for (const slot of slots) {
    const results = await Promise.all(names.flatMap((name) => [a.scheduler.tick(name, slot), b.scheduler.tick(name, slot), a.scheduler.tick(name, slot)]))
    for (let i = 0; i < names.length; i++) {
      const trio = results.slice(i * 3, i * 3 + 3)
      t.equal(trio.filter((r) => r.ran).length, 1, `${names[i]} at ${slot.toISOString()}: ran once`)
      ran += trio.filter((r) => r.ran).length
    }
  }
  t.equal(ran, names.length * slots.length)
  const rows = await dbh.rows<{ name: string, slot: Date | string, n: number, outcome: string }>(sql`
    select name, slot, count(*)::int as n, min(outcome) as outcome from job_runs where slot >= ${slots[0]!.toISOString()} group by name, slot`)
  t.equal(rows.length, names.length * slots.length, 'one row per (name, slot)')
  t.ok(rows.every((r) => Number(r.n) === 1 && r.outcome === 'succeeded'), 'each finished')
  const instances = await dbh.rows<{ instance: string }>(sql`select distinct instance from job_runs`)
  t.ok(instances.every((r) => [a.engine.worker, b.engine.worker].includes(r.instance)))
})
