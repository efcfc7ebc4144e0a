import { resolve } from 'node:path'
import { ConfigError, loadConfig, type Config } from '../config.js'
import { redactSecrets } from '../config-secrets.js'
import type { DbHandle } from '../db/client.js'

/** What the command-line tools share: the configuration, or exit 78 (EX_CONFIG, as the server does) with secrets redacted. */
export function loadConfigOrExit (): Config {
  try {
    return loadConfig()
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    process.stderr.write(`${redactSecrets(err.message)}\n`)
    process.exit(78)
  }
}

/** DATABASE_URL on one connection, or the embedded database in DATA_DIR (the drivers loaded only now, after the configuration reads). */
export async function openCliDb (config: Config): Promise<DbHandle> {
  const { openDb } = await import('../db/client.js')
  return openDb(config.DATABASE_URL ? { url: config.DATABASE_URL, maxConnections: 1 } : { dataDir: resolve(config.DATA_DIR, 'pglite') })
}
