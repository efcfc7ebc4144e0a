import { randomBytes } from 'node:crypto'
import fp from 'fastify-plugin'
import { archiveKeyBytes } from '../../config.js'
import { createConsoleRepository } from '../../db/repositories/console-repository.js'
import { createRequestsRepository } from '../../db/repositories/requests-repository.js'
import { createSystemEventsRepository } from '../../db/repositories/system-events-repository.js'
import { createConsoleService, type ConsoleService } from '../../services/console-service.js'

/** The absolute lifetime of a console session, however busy: an operator signs in again at least this often. */
export const CONSOLE_SESSION_HOURS = 12

declare module 'fastify' {
  interface FastifyInstance {
    consoleService: ConsoleService
    /**
     * The key that encrypts and signs the console's session cookie: CONSOLE_SESSION_KEY, or on the
     * embedded database one made for this process; null on Postgres without it (the console is not served).
     */
    consoleSessionKey: Buffer | null
  }
}

/** The operator console's sessions, queue and identifier reveals (routes/console). */
export default fp(async function consoleService (fastify) {
  const { config, dbh } = fastify
  const configured = config.CONSOLE_SESSION_KEY === undefined ? null : archiveKeyBytes(config.CONSOLE_SESSION_KEY)
  // As boot judges it: no DATABASE_URL is the embedded database, a single process where a key made now is enough.
  fastify.decorate('consoleSessionKey', configured ?? (config.DATABASE_URL === undefined ? randomBytes(32) : null))
  fastify.decorate('consoleService', createConsoleService({
    repo: createConsoleRepository(dbh),
    requests: createRequestsRepository(dbh),
    systemEvents: createSystemEventsRepository(dbh),
    apiKeys: fastify.apiKeys,
    sessionHours: CONSOLE_SESSION_HOURS
  }))
}, { name: 'console-service', dependencies: ['core'] })
