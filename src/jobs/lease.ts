import type { FastifyBaseLogger } from 'fastify'

/**
 * `work`, or `onTimeout()`'s error once `ms` pass without it settling: for work that may wait on
 * something that never answers (a database call lost with its connection in a restart). The work
 * itself goes on; what it does late must be harmless (a superseded attempt, a lease since lost).
 */
export async function within<T> (work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  // Should the work fail after the timeout, that failure has no one left to tell: it must not
  // surface as an unhandled rejection, which ends the process.
  work.catch(() => {})
  try {
    return await Promise.race([work, new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(onTimeout()), ms) })])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Keeps a lease alive while its holder works: renews it every third of the lease, and aborts the
 * returned signal when a renewal finds the lease gone (another worker took it over after this one
 * stalled), so the work stops instead of writing over the new holder's. Shared by tasks and
 * transfers, whose repositories say how to renew (`renew` resolves false when the lease is lost).
 */
export function holdLease (opts: { leaseMs: number, renew (): Promise<boolean>, log: FastifyBaseLogger }) {
  const controller = new AbortController()
  const timer = setInterval(() => {
    opts.renew()
      .then((held) => { if (!held) controller.abort() })
      .catch((err: unknown) => opts.log.warn({ err }, 'lease renewal failed'))
  }, Math.max(500, Math.floor(opts.leaseMs / 3)))
  return {
    signal: controller.signal,
    /** Aborts the work now (a timeout, or the process stopping); the lease is left to expire or be released. */
    abort: () => controller.abort(),
    /** Stops renewing; call once the work is over, before the lease is released. */
    stop: () => clearInterval(timer)
  }
}
