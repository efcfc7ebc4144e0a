import { ConnectorError, ConnectorErrorCodes } from '../types.js'

/**
 * Maps a postgres.js or PGlite error to a ConnectorError. Server messages are never copied:
 * some carry row values (`invalid input syntax for type integer: "…"`, key details), and
 * PGlite's errors even hold the query parameters. The message is built from the SQLSTATE and
 * our own context, and the cause keeps only codes and object names.
 */
export function toConnectorError (err: unknown, context: string, signal?: AbortSignal): ConnectorError {
  if (err instanceof ConnectorError) return err
  if (signal?.aborted) return new ConnectorError(ConnectorErrorCodes.Timeout, `${context}: aborted`, { retryable: true, cause: safeCause(err) })
  const code = errorCode(err)
  const [kind, retryable, what] = classify(code)
  return new ConnectorError(kind, `${context}: ${what}${code ? ` (${code})` : ''}`, { retryable, cause: safeCause(err) })
}

type Classified = [code: string, retryable: boolean, description: string]

const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
  // postgres.js's own connection states
  'CONNECT_TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED'
])

function classify (code: string | undefined): Classified {
  const C = ConnectorErrorCodes
  if (code === undefined) return [C.Internal, false, 'unexpected database error']
  if (NETWORK_CODES.has(code)) return [C.Network, true, 'cannot reach the database']
  switch (code) {
    case '57P01': case '57P02': case '57P03': return [C.Unavailable, true, 'the database is shutting down or starting']
    case '53300': return [C.Unavailable, true, 'too many connections']
    case '53000': case '53100': case '53200': return [C.Unavailable, true, 'the database is out of resources']
    case '40001': return [C.Unavailable, true, 'serialization failure']
    case '40P01': return [C.Unavailable, true, 'deadlock detected']
    case '55P03': return [C.Unavailable, true, 'lock not available']
    case '57014': return [C.Timeout, true, 'statement cancelled or timed out']
    case '28P01': case '28000': return [C.Auth, false, 'authentication failed']
    case '42501': return [C.Auth, false, 'permission denied']
    case '42P01': return [C.Config, false, 'undefined table']
    case '42703': return [C.Config, false, 'undefined column']
    case '3F000': return [C.Config, false, 'undefined schema']
    case '3D000': return [C.Config, false, 'database does not exist']
    case '23503': return [C.Config, false, 'foreign key violation: a table referencing this one is missing from the dataset or not erased']
    case '23502': return [C.Config, false, 'not-null violation: strategy null on a NOT NULL column']
  }
  if (code.startsWith('08')) return [C.Network, true, 'connection failure']
  if (code.startsWith('22')) return [C.BadRequest, false, 'a value does not fit its column type']
  if (code.startsWith('42')) return [C.Config, false, 'invalid statement for this schema']
  return [C.Internal, false, 'database error']
}

function errorCode (err: unknown): string | undefined {
  if (err === null || typeof err !== 'object') return undefined
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' && code.length > 0 ? code : undefined
}

/** The fields of a driver error that never hold data: code and object names. */
function safeCause (err: unknown): Record<string, string> | undefined {
  if (err === null || typeof err !== 'object') return undefined
  const e = err as Record<string, unknown>
  const out: Record<string, string> = {}
  const pick = (to: string, ...from: string[]) => {
    for (const k of from) if (typeof e[k] === 'string' && e[k] !== '') { out[to] = e[k] as string; return }
  }
  pick('code', 'code')
  pick('severity', 'severity')
  pick('schema', 'schema_name', 'schema')
  pick('table', 'table_name', 'table')
  pick('column', 'column_name', 'column')
  pick('constraint', 'constraint_name', 'constraint')
  pick('routine', 'routine')
  return Object.keys(out).length > 0 ? out : undefined
}
