import t from 'tap'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import postgresEsm from 'postgres'

// postgres.js 3.4.9 throws from a setImmediate when Postgres restarts under a pending small write
// (porsager/postgres#1154, #1208), which no caller can catch and which ends the process. The patch in
// patches/ (applied by `npm ci` through patch-package) settles that write as CONNECTION_CLOSED instead.
// Both builds a process may load (ESM for `import`, CommonJS for `require`, which pg-boss's own code
// could reach) must carry it; drop this test and the patch when a release carries the fix.
const esm = fileURLToPath(import.meta.resolve('postgres'))
const cjs = createRequire(import.meta.url).resolve('postgres')

for (const [name, entry] of [['ESM', esm], ['CommonJS', cjs]] as const) {
  t.test(`the ${name} build of postgres.js settles a write on a closed socket instead of throwing`, async (t) => {
    const source = readFileSync(join(dirname(entry), 'connection.js'), 'utf8')
    const nextWrite = source.slice(source.indexOf('function nextWrite('), source.indexOf('function connectTimedOut('))
    t.ok(nextWrite.length > 0, 'nextWrite is found')
    t.match(nextWrite, /if \(!socket\) \{[\s\S]*error\(Errors\.connection\('CONNECTION_CLOSED'/, 'the guard is applied')
  })
}

// postgres.js 3.4.9 drops the promise of its array-types query (fetch_types), which runs first on every new
// connection: when that query fails (the connection closes under it in a restart, or it is cancelled), the
// rejection reaches no caller and ends the process (porsager/postgres#1192, #1205, #1223). The patch settles
// it; a cancellation by a 1 ms statement_timeout makes it fail on every connection.
for (const [name, load] of [
  ['ESM', () => postgresEsm],
  ['CommonJS', () => createRequire(import.meta.url)('postgres') as typeof postgresEsm]
] as const) {
  t.test(`the ${name} build of postgres.js survives a failed array-types query`, { skip: process.env.DATABASE_URL ? false : 'DATABASE_URL is not set' }, async (t) => {
    const postgres = load()
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown) => { unhandled.push(reason) }
    process.on('unhandledRejection', onUnhandled)
    t.teardown(() => { process.off('unhandledRejection', onUnhandled) })
    let failed = 0
    for (let i = 0; i < 3; i++) {
      const sql = postgres(process.env.DATABASE_URL!, { max: 1, onnotice: () => {}, connection: { statement_timeout: 1 } })
      await sql`select pg_sleep(0.05)`.catch(() => { failed++ })
      await sql.end({ timeout: 1 })
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
    t.equal(failed, 3, "the caller's own query fails, as it should (statement_timeout)")
    t.strictSame(unhandled, [], 'and nothing rejects where no caller can catch it')
  })
}
