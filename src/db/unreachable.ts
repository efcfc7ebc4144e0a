/**
 * Whether an error means the database could not be reached (stopped, restarting, out of
 * connections, a dropped socket) rather than that it refused the statement. Such a failure says
 * nothing about the request: the API answers 503 DSR_UNAVAILABLE with Retry-After, never 500, and
 * the caller tries again. The code is looked for on the error and on its causes (drizzle wraps the
 * driver's error in its own).
 */
export function isDatabaseUnreachable (err: unknown): boolean {
  let e: unknown = err
  for (let depth = 0; depth < 5 && e !== null && typeof e === 'object'; depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && (UNREACHABLE.has(code) || UNREACHABLE_CLASSES.some((c) => code.startsWith(c)))) return true
    e = (e as { cause?: unknown }).cause
  }
  return false
}

/** Socket errors (Node) and postgres.js' own connection errors. */
const UNREACHABLE = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
  'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT',
  // SQLSTATE: too many connections; admin_shutdown, crash_shutdown, cannot_connect_now (starting up or shutting down).
  '53300', '57P01', '57P02', '57P03'
])

/** SQLSTATE class 08: connection exception. */
const UNREACHABLE_CLASSES = ['08']

/** What a caller that met an unreachable database is told to wait before trying again, in seconds. */
export const RETRY_AFTER_SECONDS = 2

/**
 * Runs `fn` (idempotent start-up work), again while the database is unreachable, for at most
 * `waitMs`: a process started during a database restart or outage (a supervisor restarting a
 * worker) waits for it instead of exiting. Any other failure, or the last one, is thrown.
 */
export async function whenReachable<T> (fn: () => Promise<T>, opts: {
  waitMs: number
  onWait (err: unknown): void
  /** Other failures that mean the same (a call that never answered, given up by a timeout). */
  alsoWhen?: (err: unknown) => boolean
}): Promise<T> {
  const until = Date.now() + opts.waitMs
  for (let wait = 250; ; wait = Math.min(wait * 2, 2000)) {
    try {
      return await fn()
    } catch (err) {
      if (!(isDatabaseUnreachable(err) || opts.alsoWhen?.(err) === true) || Date.now() + wait > until) throw err
      opts.onWait(err)
      await new Promise((resolve) => setTimeout(resolve, wait))
    }
  }
}
