import { redactSecrets } from '../config-secrets.js'
import type { DbHandle } from '../db/client.js'
import { loadConfigOrExit, openCliDb } from './common.js'

/** Applies pending migrations to DATABASE_URL (or the embedded database) and exits non-zero on failure. */
const config = loadConfigOrExit()
let dbh: DbHandle
try {
  dbh = await openCliDb(config)
} catch (err) {
  // Never the error itself: Node would print its properties, and a bad URL's `input` is DATABASE_URL with its password.
  process.stderr.write(`migration failed: cannot open the database: ${redactSecrets((err as Error).message)}\n`)
  process.exit(1)
}
try {
  await dbh.migrate()
  process.stdout.write(`migrations applied (${dbh.kind})\n`)
} catch (err) {
  // Drizzle wraps driver errors as "Failed query: …"; the reason (e.g. the database does not exist) is the cause.
  const cause = (err as { cause?: unknown }).cause
  process.stderr.write(`migration failed: ${redactSecrets(cause instanceof Error ? `${cause.message} (${(err as Error).message.split('\n')[0]})` : (err as Error).message)}\n`)
  process.exitCode = 1
} finally {
  await dbh.close()
}
