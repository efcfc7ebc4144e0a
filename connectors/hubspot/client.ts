import { SlidingWindowLimiter, request, type HttpResponse, type Limiter, type RetryPolicy } from '../http/index.js'
import { ConnectorError, httpError, type ConnectorLogger } from '../types.js'
import type { HubspotConfig } from './config.js'

/** How long to back off after a 429 that names its policy (HubSpot sends no reliable Retry-After). */
export interface HubspotBackoff {
  secondlyMs: number
  /** Used when the response carries no X-HubSpot-RateLimit-Interval-Milliseconds. */
  tenSecondlyMs: number
  dailyMs: number
}

export const DEFAULT_BACKOFF: HubspotBackoff = { secondlyMs: 1000, tenSecondlyMs: 10_000, dailyMs: 3_600_000 }

export interface HubspotOptions {
  retry?: Partial<RetryPolicy>
  backoff?: Partial<HubspotBackoff>
}

const SAFE_CATEGORY = /^[A-Z][A-Z_]{0,60}$/

/**
 * The wait HubSpot implies for a 429: by `policyName` (SECONDLY: the search API's per-second limit;
 * TEN_SECONDLY_ROLLING: the burst window, whose length the Interval header gives; DAILY: long, so the
 * engine reschedules rather than waiting here).
 */
export function hubspotRetryAfter (res: HttpResponse, backoff: HubspotBackoff = DEFAULT_BACKOFF): number {
  const policy = typeof res.body === 'object' && res.body !== null ? (res.body as { policyName?: unknown }).policyName : undefined
  if (policy === 'SECONDLY') return backoff.secondlyMs
  if (policy === 'DAILY') return backoff.dailyMs
  const interval = Number(res.headers.get('x-hubspot-ratelimit-interval-milliseconds'))
  return Number.isFinite(interval) && interval > 0 ? Math.min(interval, backoff.tenSecondlyMs) : backoff.tenSecondlyMs
}

/** HubSpot's error `category` (an enum such as OBJECT_NOT_FOUND) is safe to name; `message` is not (it can quote values). */
export function classifyHubspot (route: string, res: HttpResponse): ConnectorError {
  const category = typeof res.body === 'object' && res.body !== null ? (res.body as { category?: unknown }).category : undefined
  const named = typeof category === 'string' && SAFE_CATEGORY.test(category) ? ` (${category})` : ''
  return httpError(res.status, `hubspot ${route} answered ${res.status}${named}`, res.headers.get('retry-after'))
}

export interface CallOptions {
  query?: Record<string, string | number | undefined>
  json?: unknown
  signal: AbortSignal
  accept?: readonly number[]
}

export type HubspotApi = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', route: string, path: string, opts: CallOptions) => Promise<HttpResponse>

/** A caller for one HubSpot account: Bearer auth, the account's 10-second limit, and the search limit on search calls. */
export function createHubspotApi (config: HubspotConfig, deps: { fetch: typeof fetch, log: ConnectorLogger }, opts: HubspotOptions = {}): HubspotApi {
  // HubSpot counts calls as they arrive; the margins cover the jitter between our send and its arrival
  // (a busy host or network can delay one call by a few hundred ms and bunch it with the next).
  const burst = new SlidingWindowLimiter(config.rate_limit.per_10s, 10_000, 500)
  const search = new SlidingWindowLimiter(config.search_per_second, 1000, 250)
  const backoff = { ...DEFAULT_BACKOFF, ...opts.backoff }
  const base = config.base_url.replace(/\/+$/, '')
  return (method, route, path, call) => {
    const limiters: Limiter[] = route.includes('/search') ? [burst, search] : [burst]
    return request({
      fetch: deps.fetch,
      vendor: 'hubspot',
      method,
      url: base + path,
      route: `${method} ${route}`,
      ...(call.query ? { query: call.query } : {}),
      ...(call.json !== undefined ? { json: call.json } : {}),
      ...(call.accept ? { accept: call.accept } : {}),
      authorization: () => `Bearer ${config.token}`,
      signal: call.signal,
      limiters,
      ...(opts.retry ? { retry: opts.retry } : {}),
      classify: (res) => classifyHubspot(`${method} ${route}`, res),
      retryAfter: (res) => hubspotRetryAfter(res, backoff),
      log: deps.log
    })
  }
}
