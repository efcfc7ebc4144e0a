import { buildApp } from './app.js'
import { loadConfig } from './config.js'
import { openDb } from './db/client.js'

/** The OpenAPI document exactly as the service serves it, as stable, pretty-printed JSON. */
export async function openApiDocument (): Promise<string> {
  const config = loadConfig({ LOG_LEVEL: 'silent' })
  const dbh = await openDb({ dataDir: 'memory://' })
  const app = await buildApp({ config, dbh, apiKeys: new Map(), startEngine: false })
  try {
    await app.ready()
    return `${JSON.stringify(app.swagger(), null, 2)}\n`
  } finally {
    await app.close()
    await dbh.close()
  }
}
