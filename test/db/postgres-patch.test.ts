import t from 'tap'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

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
