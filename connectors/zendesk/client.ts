import { Readable } from 'node:stream'
import { SlidingWindowLimiter, request, type HttpResponse, type Limiter, type RetryPolicy } from '../http/index.js'
import type { ConnectorLogger } from '../types.js'
import { zendeskAuthorization, zendeskBaseUrl, type ZendeskConfig } from './config.js'

export interface ZendeskOptions {
  retry?: Partial<RetryPolicy>
}

export interface CallOptions {
  query?: Record<string, string | number | undefined>
  signal: AbortSignal
  accept?: readonly number[]
  /** Permanent user deletions have their own limit besides the account's. */
  deletedUsersLimit?: boolean
}

export interface ZendeskApi {
  call (method: 'GET' | 'DELETE', route: string, pathOrUrl: string, opts: CallOptions): Promise<HttpResponse>
  /** Streams a file from an attachment's content_url, sending credentials only to the Zendesk origin. */
  open (contentUrl: string, signal: AbortSignal): Promise<Readable>
}

export function createZendeskApi (config: ZendeskConfig, deps: { fetch: typeof fetch, log: ConnectorLogger }, opts: ZendeskOptions = {}): ZendeskApi {
  const base = new URL(zendeskBaseUrl(config))
  const authorization = zendeskAuthorization(config)
  const account = new SlidingWindowLimiter(config.rate_limit.per_minute, 60_000, 1000)
  const deletions = new SlidingWindowLimiter(config.deleted_users_per_10_minutes, 600_000, 5000)

  /**
   * Zendesk's next_page / links.next are absolute URLs; only their path and query are used, on the
   * configured origin, so a pagination link can never send our credentials to another host.
   */
  const resolve = (pathOrUrl: string): string => {
    const u = new URL(pathOrUrl, base)
    return new URL(u.pathname + u.search, base).toString()
  }

  return {
    call (method, route, pathOrUrl, call) {
      const limiters: Limiter[] = call.deletedUsersLimit ? [account, deletions] : [account]
      return request({
        fetch: deps.fetch,
        vendor: 'zendesk',
        method,
        url: resolve(pathOrUrl),
        route: `${method} ${route}`,
        ...(call.query ? { query: call.query } : {}),
        ...(call.accept ? { accept: call.accept } : {}),
        authorization: () => authorization,
        signal: call.signal,
        limiters,
        ...(opts.retry ? { retry: opts.retry } : {}),
        log: deps.log
      })
    },
    async open (contentUrl, signal) {
      const url = new URL(contentUrl, base)
      // Attachments may live off-host: Zendesk credentials and the account's rate limit are only for its own origin.
      const sameOrigin = url.origin === base.origin
      const res = await request({
        fetch: deps.fetch,
        vendor: 'zendesk',
        method: 'GET',
        url: url.toString(),
        route: 'GET attachment content',
        headers: { accept: '*/*' },
        ...(sameOrigin ? { authorization: () => authorization, limiters: [account] } : {}),
        signal,
        streamBody: true,
        ...(opts.retry ? { retry: opts.retry } : {}),
        log: deps.log
      })
      return Readable.fromWeb(res.body as import('node:stream/web').ReadableStream)
    }
  }
}
