import type { FastifyServerOptions } from 'fastify'
import type { Config } from './config.js'

/**
 * Paths pino removes before a line is written. Requests carry the most sensitive data the
 * company has, so anything that can hold a subject identifier or a credential is censored
 * wherever it appears (one level deep covers `{ subject }`, `{ body: { subject } }` is never logged).
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-api-key"]',
  'authorization',
  'apiKey',
  'key',
  'subject', '*.subject',
  'email', '*.email',
  'phone', '*.phone',
  'requester', '*.requester',
  'changes', '*.changes',
  'notes', '*.notes',
  'body', '*.body'
]

export function loggerOptions (config: Pick<Config, 'LOG_LEVEL'>): FastifyServerOptions['logger'] {
  return {
    level: config.LOG_LEVEL,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: {
      // The route pattern (/v1/requests/:id), never the path or query string: a caller may put an
      // identifier in either, and it must not reach the log.
      req: (req) => ({ method: req.method, route: req.routeOptions?.url ?? '(no route)', reqId: req.id }),
      err: loggableError as never
    }
  }
}

/**
 * What of an error may be logged. Database errors carry the offending values in `detail`,
 * `where` and `parameters` (for example the e-mail in a unique violation), so only their class,
 * code and constraint names survive, never values.
 */
export function loggableError (err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { type: typeof err }
  const e = err as Error & Record<string, unknown>
  const fromDatabase = typeof e.severity === 'string' || typeof e.routine === 'string'
  return {
    type: e.name,
    code: e.code,
    ...(fromDatabase
      ? { constraint: e.constraint_name ?? e.constraint, table: e.table_name ?? e.table, routine: e.routine }
      : { message: e.message, stack: e.stack }),
    ...(e.cause ? { cause: loggableError(e.cause) } : {})
  }
}
