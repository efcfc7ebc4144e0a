import t from 'tap'
import { mkdtemp, rm, truncate } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EmbeddedDbUnreadableError, openDb } from '../../src/db/client.js'

// The embedded database once failed to open after its process was stopped: `RuntimeError: Aborted()`
// from PGlite, and nothing else. A data folder whose control file is cut short (what a crash while
// writing it can leave) gives the same abort; start-up now says what happened and what to do.
t.test('a damaged embedded data folder fails to open with a coded message that says what to do', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dsr-pglite-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const dbh = await openDb({ dataDir: dir })
  await dbh.rows((await import('drizzle-orm')).sql`select 1`)
  await dbh.close()
  await truncate(join(dir, 'global', 'pg_control'), 10)
  const err = await openDb({ dataDir: dir }).then(() => null, (e: unknown) => e)
  t.type(err, EmbeddedDbUnreadableError)
  t.match(err, { code: 'EMBEDDED_DB_UNREADABLE', message: /cannot be opened[\s\S]*Restore that folder from a backup[\s\S]*move it aside/ })
  t.match((err as Error).message, /Aborted\(\)/, 'names what PGlite said')
})
