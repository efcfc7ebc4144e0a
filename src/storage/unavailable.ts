/**
 * Whether a storage error means the object store is unavailable for now (it answered 5xx: S3's
 * `ServiceUnavailable`, `SlowDown`, `InternalError`) rather than that the call was wrong. Like an
 * unreachable database, it says nothing about the request: the API answers 503 DSR_UNAVAILABLE
 * with Retry-After. A store that cannot be reached at all fails with a socket error code, which
 * isDatabaseUnreachable already counts.
 */
export function isStoreUnavailable (err: unknown): boolean {
  if (err === null || typeof err !== 'object') return false
  const e = err as { name?: unknown, $metadata?: { httpStatusCode?: unknown }, $fault?: unknown }
  const status = e.$metadata?.httpStatusCode
  if (typeof status === 'number') return status >= 500 && status <= 599
  return e.$fault === 'server' || (typeof e.name === 'string' && SERVER_ERRORS.has(e.name))
}

const SERVER_ERRORS = new Set(['ServiceUnavailable', 'SlowDown', 'InternalError', 'RequestTimeout'])
