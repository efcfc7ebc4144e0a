import { resolve } from 'node:path'
import type { Logger } from 'pino'
import { ConfigError, type Config } from './config.js'
import { openDb, type DbHandle } from './db/client.js'
import { whenReachable } from './db/unreachable.js'
import { issueDevelopmentKey, keysFromConfig, storedKeys, type KeyRecord } from './services/api-keys.js'
import { closeRegistry, createRegistry, readConnectorFile, type ConnectorRegistry } from './connectors/registry.js'
import { ensureSampleData, SAMPLE_ACCOUNTS_FILE, SAMPLE_CONNECTORS_FILE } from './connectors/samples.js'
import { loadAccounts, readAccountsFile } from './connectors/accounts-file.js'
import { callbackSettings, callbackUrlRefusal } from './callbacks/settings.js'
import { drivers } from '../connectors/index.js'
import { ensureServiceKeys, unconfiguredKeys } from './receipts/keys.js'
import { readiness } from './services/readiness.js'

export interface Booted {
  dbh: DbHandle
  apiKeys: ReadonlyMap<string, KeyRecord>
  registry: ConnectorRegistry
  /** Set only on the first start of the embedded database: the key to print once. */
  developmentKey: string | null
  /** Closes the connectors and the database. */
  close (): Promise<void>
}

/**
 * Opens the database (Postgres with DATABASE_URL, else embedded PGlite in DATA_DIR), migrates it
 * when configured to, assembles the API keys, and creates the connectors: those of
 * CONNECTORS_FILE, or the bundled sample systems when it is not set. Shared by the server and the CLIs.
 */
export async function boot (config: Config, log: Logger, env: Record<string, string | undefined> = process.env): Promise<Booted> {
  const apiKeys = new Map(keysFromConfig(config))
  const connectorFile = readConnectorFile(config.CONNECTORS_FILE ?? SAMPLE_CONNECTORS_FILE)
  const accountsPath = config.ACCOUNTS_FILE ?? (config.CONNECTORS_FILE ? undefined : SAMPLE_ACCOUNTS_FILE)
  const accountsFile = accountsPath ? readAccountsFile(accountsPath) : null
  for (const a of accountsFile?.accounts ?? []) {
    // Accepted means called: an account's callback_url the configuration would never call stops the start.
    const refusal = a.callback_url ? callbackUrlRefusal(callbackSettings(config), a.callback_url) : null
    if (refusal) throw new ConfigError(`ACCOUNTS_FILE: account ${a.id}: ${refusal}`)
  }
  const embedded = !config.DATABASE_URL
  const dbh = await openDb({
    ...(config.DATABASE_URL ? { url: config.DATABASE_URL } : { dataDir: resolve(config.DATA_DIR, 'pglite') })
  })
  let registry: ConnectorRegistry = new Map()
  try {
    // Each step is idempotent: all are run again while the database is unreachable.
    const { developmentKey, madeKeys } = await whenReachable(async () => {
      if (config.MIGRATE_ON_START ?? embedded) await dbh.migrate()
      if ((await readiness(dbh)).checks.migrations === 'pending') {
        throw new ConfigError('The database is not migrated to this version of the service: run `npm run migrate` ' +
          '(with the same DATABASE_URL), or set MIGRATE_ON_START=true, then start again.')
      }
      let developmentKey: string | null = null
      if (embedded && apiKeys.size === 0) {
        const issued = await issueDevelopmentKey(dbh)
        if (issued) developmentKey = issued.key
      }
      for (const [hash, record] of await storedKeys(dbh)) apiKeys.set(hash, record)
      if (accountsFile) await loadAccounts(dbh, accountsFile)
      // Receipt signing and hashing, tombstone sealing: keys not configured are made once and kept in the database.
      return { developmentKey, madeKeys: await ensureServiceKeys(dbh, config) }
    }, { waitMs: config.DATABASE_START_WAIT_SECONDS * 1000, onWait: (err) => log.warn({ code: (err as { code?: string }).code }, 'waiting for the database') })
    if (madeKeys.length > 0) log.info({ keys: madeKeys }, 'erasure-proof keys made and kept in the service database')
    if (!embedded && unconfiguredKeys(config).length > 0) {
      log.warn({ settings: unconfiguredKeys(config) }, 'erasure-proof keys are kept in the service database beside what they protect: configure them')
    }
    // `embedded:` addresses the bundled sample systems in the service's own database: create them once.
    const usesSamples = connectorFile.connectors.some((c) => c.enabled && c.settings.url === 'embedded:')
    if (usesSamples && await ensureSampleData(dbh)) log.info('sample systems created')
    registry = await createRegistry(connectorFile, { drivers, env, log, serviceDatabase: dbh })
    let closing: Promise<void> | undefined
    return {
      dbh,
      apiKeys,
      registry,
      developmentKey,
      // Once, however often it is called (the app's close and a failed start both call it).
      close: () => (closing ??= closeRegistry(registry).then(() => dbh.close()))
    }
  } catch (err) {
    await closeRegistry(registry)
    await dbh.close()
    throw err
  }
}
