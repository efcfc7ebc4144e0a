import { resolve } from 'node:path'
import type { Config } from './config.js'
import { openDb, type DbHandle } from './db/client.js'
import { issueDevelopmentKey, keysFromConfig, storedKeys, type KeyRecord } from './services/api-keys.js'

export interface Booted {
  dbh: DbHandle
  apiKeys: ReadonlyMap<string, KeyRecord>
  /** Set only on the first start of the embedded database: the key to print once. */
  developmentKey: string | null
}

/**
 * Opens the database (Postgres with DATABASE_URL, else embedded PGlite in DATA_DIR), migrates it
 * when configured to, and assembles the API keys. Shared by the server and the CLIs.
 */
export async function boot (config: Config): Promise<Booted> {
  const apiKeys = new Map(keysFromConfig(config))
  const embedded = !config.DATABASE_URL
  const dbh = await openDb({
    ...(config.DATABASE_URL ? { url: config.DATABASE_URL } : { dataDir: resolve(config.DATA_DIR, 'pglite') })
  })
  try {
    if (config.MIGRATE_ON_START ?? embedded) await dbh.migrate()
    let developmentKey: string | null = null
    if (embedded && apiKeys.size === 0) {
      const issued = await issueDevelopmentKey(dbh)
      if (issued) developmentKey = issued.key
    }
    for (const [hash, record] of await storedKeys(dbh)) apiKeys.set(hash, record)
    return { dbh, apiKeys, developmentKey }
  } catch (err) {
    await dbh.close()
    throw err
  }
}
