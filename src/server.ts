import closeWithGrace from 'close-with-grace'
import pino from 'pino'
import { ConfigError, loadConfig } from './config.js'
import { redactSecrets } from './config-secrets.js'
import { loggerOptions } from './logger.js'

/**
 * Entry point: configuration, database, connectors, then the roles asked for. ROLE=api serves HTTP
 * only, ROLE=worker runs tasks only, ROLE=all (the default) does both. Everything else lives in the
 * app plugin.
 */
async function main (): Promise<void> {
  const config = loadConfig()
  const log = pino(loggerOptions(config) as pino.LoggerOptions)
  // Loaded once the configuration reads: a mistake in it is reported at once, not after the whole
  // service (fastify, every plugin, the database drivers) has been loaded.
  const [{ buildApp }, { boot }, { whenReachable }] = await Promise.all([import('./app.js'), import('./boot.js'), import('./db/unreachable.js')])
  // A process started while the database restarts or is away (a supervisor restarting it) waits
  // for the database, starting again from the top, rather than exiting.
  const { app, apiKeys, developmentKey, registry } = await whenReachable(async () => {
    const { dbh, apiKeys, registry, developmentKey, close } = await boot(config, log)
    const app = await buildApp({ config, dbh, apiKeys, registry }, { loggerInstance: log })
    app.addHook('onClose', close)
    try {
      await app.ready()
    } catch (err) {
      await app.close().catch(() => {})
      await close().catch(() => {})
      throw err
    }
    return { app, apiKeys, developmentKey, registry }
  }, { waitMs: config.DATABASE_START_WAIT_SECONDS * 1000, onWait: (err) => log.warn({ code: (err as { code?: string }).code }, 'the database went away during start-up: starting again') })

  closeWithGrace({ delay: 15_000 }, async ({ err, signal }) => {
    if (err) app.log.error({ err }, 'closing after an error')
    else app.log.info({ signal }, 'closing')
    await app.close()
  })

  if (config.ROLE === 'worker') {
    app.log.info({ connectors: [...registry.keys()] }, 'worker started')
    return
  }
  await app.listen({ port: config.PORT, host: config.HOST })
  if (developmentKey) printDevelopmentKey(developmentKey, config.PORT)
  if (apiKeys.size === 0) app.log.warn('no API keys are configured: set API_KEYS or API_KEYS_FILE')
}

/** Printed once, to the terminal and not the log: only its hash is kept. */
function printDevelopmentKey (key: string, port: number): void {
  process.stdout.write([
    '',
    'A development API key with the admin scope was created for this embedded database.',
    'It is shown only this once (only its hash is stored); keep it:',
    '',
    `  export DSR_KEY=${key}`,
    '',
    `  curl -s -H "Authorization: Bearer $DSR_KEY" http://localhost:${port}/v1/requests`,
    '',
    `The operator console signs in with it too: http://localhost:${port}/console`,
    '',
    ''
  ].join('\n'))
}

/** EmbeddedDbUnreadableError's code (db/client.ts), told apart without loading the database drivers. */
const EMBEDDED_DB_UNREADABLE = 'EMBEDDED_DB_UNREADABLE'

main().catch((err: unknown) => {
  // Whatever failed, the message may quote a setting: every secret in it is masked (config-secrets.ts).
  const unreadable = err instanceof Error && (err as { code?: unknown }).code === EMBEDDED_DB_UNREADABLE
  if (err instanceof ConfigError || unreadable) {
    if (unreadable) {
      process.stderr.write(`${EMBEDDED_DB_UNREADABLE}: ${redactSecrets(err.message)}\n`)
      process.exit(1)
    }
    process.stderr.write(`${redactSecrets(err.message)}\n`)
    process.exit(78) // EX_CONFIG
  }
  process.stderr.write(`dsar-service failed to start: ${redactSecrets((err as Error).stack ?? String(err))}\n`)
  process.exit(1)
})
