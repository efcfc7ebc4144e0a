import { ConnectorError, ConnectorErrorCodes, httpError, parseRetryAfter, type ConnectorLogger } from '../types.js'
import { sleep, type Limiter, type Release } from './limiter.js'

export interface HttpResponse {
  status: number
  headers: Headers
  /** Parsed JSON when the response says JSON, the text otherwise, undefined when empty. */
  body: unknown
}

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number
  /**
   * Attempts when the vendor answers 429. A 429 asks us to slow down; it is not a fault, so it has a
   * budget of its own. When a caller gives `attempts` but not this, `attempts` bounds 429s too.
   */
  rateLimitedAttempts: number
  /** First back-off when the vendor names no wait; doubled per attempt, with jitter. */
  baseDelayMs: number
  /** A vendor asking for a longer wait than this is not waited for here: the error goes to the engine. */
  maxWaitMs: number
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, rateLimitedAttempts: 12, baseDelayMs: 250, maxWaitMs: 30_000 }

export interface RequestOptions {
  fetch: typeof fetch
  /** Names the vendor in messages, e.g. "mailchimp". */
  vendor: string
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  url: string
  /**
   * The route template for messages and logs (`GET /lists/{list_id}/members/{hash}`). The real URL can
   * hold identifiers (e-mail hashes, ids), so it never appears in an error or a log line.
   */
  route: string
  query?: Record<string, string | number | undefined>
  json?: unknown
  /** Extra body (e.g. a form), sent as is. */
  body?: string
  headers?: Record<string, string>
  /** The Authorization header value, fetched per attempt (tokens may be refreshed). */
  authorization?: () => string | Promise<string>
  /** Called on a 401 once: the caller drops its cached token; the request is then retried. */
  onUnauthorized?: () => void
  signal: AbortSignal
  /** Every limiter is acquired before each attempt, and released when the response is read. */
  limiters?: readonly Limiter[]
  retry?: Partial<RetryPolicy>
  /** Statuses handed back to the caller instead of thrown (e.g. 404 meaning "not in this audience"). */
  accept?: readonly number[]
  /**
   * Turns a failed response into the error to throw (vendor-specific: problem+json titles, error codes).
   * Return undefined to use the standard classification (`httpError`).
   */
  classify?: (res: HttpResponse) => ConnectorError | undefined
  /**
   * Hand back a successful response's body unread, as a web ReadableStream (downloads). Failures are
   * still read, classified and retried; once the body is handed over nothing is retried.
   */
  streamBody?: boolean
  /** How long to wait on a 429 without Retry-After (vendor headers, e.g. X-RateLimit-*). */
  retryAfter?: (res: HttpResponse) => number | undefined
  log?: ConnectorLogger
}

function network (vendor: string, route: string, err: unknown, signal: AbortSignal): ConnectorError {
  if (err instanceof ConnectorError) return err
  if (signal.aborted) return new ConnectorError(ConnectorErrorCodes.Timeout, `${vendor} ${route}: aborted`, { retryable: true, cause: signal.reason })
  const code = (err as { cause?: { code?: string } })?.cause?.code ?? (err as { code?: string })?.code
  // Only the error code is kept: a network error message can quote the URL.
  return new ConnectorError(ConnectorErrorCodes.Network, `${vendor} ${route}: network error${code ? ` (${code})` : ''}`,
    { retryable: true, cause: code ? { code } : undefined })
}

async function readBody (res: Response): Promise<unknown> {
  const text = await res.text()
  if (text.length === 0) return undefined
  const type = res.headers.get('content-type') ?? ''
  if (/json/i.test(type)) {
    try { return JSON.parse(text) } catch { return text }
  }
  return text
}

/**
 * One call to a vendor's HTTP API: auth, rate limiting, bounded retries of 429/5xx/network errors
 * (honouring Retry-After), abort, and errors mapped to ConnectorError. Neither request nor response
 * bodies, nor the URL, ever reach an error message or a log line.
 */
export async function request (opts: RequestOptions): Promise<HttpResponse> {
  const policy: RetryPolicy = {
    ...DEFAULT_RETRY,
    ...opts.retry,
    rateLimitedAttempts: opts.retry?.rateLimitedAttempts ?? opts.retry?.attempts ?? DEFAULT_RETRY.rateLimitedAttempts
  }
  let failures = 0
  let throttled = 0
  const url = new URL(opts.url)
  for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v))
  let reauthorized = false
  for (;;) {
    if (opts.signal.aborted) throw network(opts.vendor, opts.route, undefined, opts.signal)
    const releases: Release[] = []
    let error: ConnectorError
    let waitMs: number | undefined
    let limited = false
    try {
      for (const l of opts.limiters ?? []) releases.push(await l.acquire(opts.signal))
      const headers: Record<string, string> = { accept: 'application/json', ...opts.headers }
      if (opts.authorization) headers.authorization = await opts.authorization()
      let body: string | undefined = opts.body
      if (opts.json !== undefined) {
        headers['content-type'] = 'application/json'
        body = JSON.stringify(opts.json)
      }
      let res: Response
      // The slots count from now, when the call goes out (after any wait for a later limiter or a token).
      for (const release of releases) release.sent?.()
      try {
        res = await opts.fetch(url, { method: opts.method, headers, ...(body !== undefined ? { body } : {}), signal: opts.signal })
      } catch (err) {
        throw network(opts.vendor, opts.route, err, opts.signal)
      }
      if (opts.streamBody && res.ok && res.body) return { status: res.status, headers: res.headers, body: res.body }
      let parsed: unknown
      try {
        parsed = await readBody(res)
      } catch (err) {
        throw network(opts.vendor, opts.route, err, opts.signal)
      }
      const out: HttpResponse = { status: res.status, headers: res.headers, body: parsed }
      if (res.ok || opts.accept?.includes(res.status)) return out
      if (res.status === 401 && opts.onUnauthorized && !reauthorized) {
        reauthorized = true
        opts.onUnauthorized()
        continue
      }
      const message = `${opts.vendor} ${opts.route} answered ${res.status}`
      error = opts.classify?.(out) ?? httpError(res.status, message, res.headers.get('retry-after'))
      limited = res.status === 429
      if (limited && error.retryAfterMs === undefined) {
        const vendorWait = parseRetryAfter(res.headers.get('retry-after')) ?? opts.retryAfter?.(out)
        if (vendorWait !== undefined) error = new ConnectorError(error.code, error.message, { retryable: error.retryable, retryAfterMs: vendorWait })
      }
      waitMs = error.retryAfterMs
    } catch (err) {
      error = network(opts.vendor, opts.route, err, opts.signal)
    } finally {
      for (const release of releases) release()
    }
    const attempt = limited ? ++throttled : ++failures
    if (!error.retryable || attempt >= (limited ? policy.rateLimitedAttempts : policy.attempts) || opts.signal.aborted) throw error
    if (waitMs !== undefined && waitMs > policy.maxWaitMs) throw error
    const backoff = Math.min(policy.baseDelayMs * 2 ** (attempt - 1), policy.maxWaitMs)
    const delay = waitMs ?? Math.round(backoff / 2 + Math.random() * backoff / 2)
    opts.log?.debug({ vendor: opts.vendor, route: opts.route, attempt, limited, code: error.code, delayMs: delay }, 'vendor call failed; retrying')
    await sleep(delay, opts.signal)
  }
}

/** HTTP Basic credentials as a header value. */
export function basicAuth (user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
}
