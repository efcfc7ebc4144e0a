import { Type, type Static } from 'typebox'
import { SlidingWindowLimiter, basicAuth, request, type HttpResponse, type Limiter, type RetryPolicy } from '../http/index.js'
import {
  ConnectorError, ConnectorErrorCodes, defineConnector, httpError,
  type Capability, type CollectedItem, type Connector, type ConnectorDeps, type EraseOutcome, type HealthResult, type StreamInfo
} from '../types.js'

const RateLimitsSchema = Type.Object({
  light: Type.Integer({ minimum: 1, default: 30 }),
  medium: Type.Integer({ minimum: 1, default: 20 }),
  heavy: Type.Integer({ minimum: 1, default: 10 })
}, { additionalProperties: false, description: 'Requests per second per Zoom rate-limit category (Pro plan: 30/20/10; Business and up: 80/60/40)' })

export const ZoomConfigSchema = Type.Object({
  base_url: Type.String({ pattern: '^https?://[^\\s]+$', default: 'https://api.zoom.us/v2' }),
  /** Server-to-Server OAuth token endpoint (configurable so a fake can serve it). */
  token_url: Type.String({ pattern: '^https?://[^\\s]+$', default: 'https://zoom.us/oauth/token' }),
  /** Secrets, from the environment: `{ "env": "ZOOM_ACCOUNT_ID" }` etc. */
  account_id: Type.String({ minLength: 1 }),
  client_id: Type.String({ minLength: 1 }),
  client_secret: Type.String({ minLength: 1 }),
  /** Whose webinars: a user id, an e-mail, or `me` (the app's account owner). */
  user_id: Type.String({ minLength: 1, default: 'me' }),
  page_size: Type.Integer({ minimum: 1, maximum: 300, default: 300 }),
  rate_limits: Type.Optional(RateLimitsSchema),
  /** Look for the person in past-webinar reports (participants, Q&A, polls); needs `report:read:admin`. */
  reports: Type.Boolean({ default: true })
}, { additionalProperties: false })
export type ZoomConfig = Static<typeof ZoomConfigSchema>

/** What erase says about report data, which Zoom's API cannot delete. */
export const REPORT_RETAINED_REASON = 'Zoom offers no API to delete webinar report data (participants, Q&A, polls); ask Zoom support or wait for its retention'

export const ZOOM_STREAMS: readonly StreamInfo[] = [
  { name: 'registrations', description: 'Webinar registrations (any status: approved, pending, denied) with registration answers', categories: ['identity', 'contact', 'events'] },
  { name: 'attendance', description: 'Past-webinar attendance report: when the person joined and left', categories: ['events', 'behavioural'], onErase: { action: 'retain', reason: REPORT_RETAINED_REASON } },
  { name: 'qa', description: 'Questions the person asked in past webinars, with answers', categories: ['events', 'communications'], onErase: { action: 'retain', reason: REPORT_RETAINED_REASON } },
  { name: 'polls', description: 'The person\'s answers to polls in past webinars', categories: ['events', 'opinions'], onErase: { action: 'retain', reason: REPORT_RETAINED_REASON } }
]

const HEALTH_TIMEOUT_MS = 5000
const STATUSES = ['approved', 'pending', 'denied'] as const
/** Renew the token this long before Zoom says it expires. */
const TOKEN_MARGIN_MS = 60_000

export const zoomConnector = defineConnector({
  driver: 'zoom',
  displayName: 'Zoom Webinars',
  version: 1,
  capabilities: ['collect', 'erase'] satisfies Capability[],
  // Registrants are listed directly (no search index): what a DELETE removed is gone from the next list.
  erasureCheck: { searchable: true, settleMs: 0 },
  streams: ZOOM_STREAMS,
  configSchema: ZoomConfigSchema,
  secretFields: ['account_id', 'client_id', 'client_secret'],
  create: (config: ZoomConfig, deps: ConnectorDeps) => createZoomConnector(config, deps)
})

interface ZoomErrorBody { code?: unknown, message?: unknown }
const zoomCode = (res: HttpResponse): number | undefined => {
  const code = (typeof res.body === 'object' && res.body !== null ? res.body as ZoomErrorBody : {}).code
  return typeof code === 'number' ? code : undefined
}

/** Zoom errors are `{ code, message }`; the message can quote ids and is never copied. */
export function classifyZoom (route: string, res: HttpResponse): ConnectorError {
  const code = zoomCode(res)
  const message = `zoom ${route} answered ${res.status}${code !== undefined ? ` (code ${code})` : ''}`
  // 300 on a list: the next_page_token expired (15 minutes); the run can start again.
  if (res.status === 400 && code === 300) return new ConnectorError(ConnectorErrorCodes.BadRequest, message, { retryable: true })
  return httpError(res.status, message, res.headers.get('retry-after'))
}

type Registrant = { id?: string, email?: string, [k: string]: unknown }
type Webinar = { id?: number | string, uuid?: string, topic?: string, start_time?: string }

export interface ZoomOptions {
  retry?: Partial<RetryPolicy>
}

export function createZoomConnector (config: ZoomConfig, deps: ConnectorDeps, opts: ZoomOptions = {}): Connector {
  const base = config.base_url.replace(/\/+$/, '')
  const limits = { light: 30, medium: 20, heavy: 10, ...config.rate_limits }
  // Zoom counts per second on its clock: a 100 ms margin absorbs network and scheduling jitter.
  const limiters: Record<'light' | 'medium' | 'heavy', Limiter> = {
    light: new SlidingWindowLimiter(limits.light, 1000, 100),
    medium: new SlidingWindowLimiter(limits.medium, 1000, 100),
    heavy: new SlidingWindowLimiter(limits.heavy, 1000, 100)
  }
  let token: { value: string, expiresAt: number } | undefined
  let pending: Promise<string> | undefined

  async function accessToken (signal: AbortSignal): Promise<string> {
    if (token && Date.now() < token.expiresAt) return token.value
    pending ??= (async () => {
      const res = await request({
        fetch: deps.fetch,
        vendor: 'zoom',
        method: 'POST',
        url: config.token_url,
        route: 'POST /oauth/token',
        query: { grant_type: 'account_credentials', account_id: config.account_id },
        authorization: () => basicAuth(config.client_id, config.client_secret),
        signal,
        retry: opts.retry ?? {},
        // A refused client is a configuration problem, whatever status the token endpoint picks.
        classify: (r) => r.status === 400 || r.status === 401 || r.status === 403
          ? new ConnectorError(ConnectorErrorCodes.Auth, `zoom POST /oauth/token answered ${r.status}`, { retryable: false })
          : undefined
      })
      const body = res.body as { access_token?: unknown, expires_in?: unknown }
      if (typeof body?.access_token !== 'string') throw new ConnectorError(ConnectorErrorCodes.Auth, 'zoom token endpoint returned no access_token', { retryable: false })
      const ttlMs = (typeof body.expires_in === 'number' ? body.expires_in : 3600) * 1000
      token = { value: body.access_token, expiresAt: Date.now() + Math.max(ttlMs - TOKEN_MARGIN_MS, ttlMs / 2) }
      return body.access_token
    })().finally(() => { pending = undefined })
    return pending
  }

  const call = (method: 'GET' | 'DELETE', category: 'light' | 'medium' | 'heavy', route: string, path: string, signal: AbortSignal,
    extra: { query?: Record<string, string | number | undefined>, accept?: number[], retry?: Partial<RetryPolicy> } = {}) =>
    request({
      fetch: deps.fetch,
      vendor: 'zoom',
      method,
      url: base + path,
      route: `${method} ${route}`,
      authorization: async () => `Bearer ${await accessToken(signal)}`,
      onUnauthorized: () => { token = undefined },
      signal,
      limiters: [limiters[category]],
      classify: (res) => classifyZoom(`${method} ${route}`, res),
      log: deps.log,
      retry: { ...opts.retry, ...extra.retry },
      ...(extra.query ? { query: extra.query } : {}),
      ...(extra.accept ? { accept: extra.accept } : {})
    })

  /** Follows next_page_token to the end ("" or absent on the last page). */
  async function * pages (category: 'medium' | 'heavy', route: string, path: string, field: string, signal: AbortSignal,
    query: Record<string, string> = {}, accept: number[] = []): AsyncGenerator<unknown[]> {
    let next: string | undefined
    do {
      const res = await call('GET', category, route, path, signal, { query: { ...query, page_size: config.page_size, next_page_token: next }, accept })
      if (!(res.status >= 200 && res.status < 300)) return
      const body = res.body as Record<string, unknown>
      yield Array.isArray(body[field]) ? body[field] as unknown[] : []
      next = typeof body.next_page_token === 'string' && body.next_page_token !== '' ? body.next_page_token : undefined
    } while (next)
  }

  async function * webinars (signal: AbortSignal): AsyncGenerator<Webinar> {
    for await (const page of pages('medium', '/users/{userId}/webinars', `/users/${encodeURIComponent(config.user_id)}/webinars`, 'webinars', signal)) {
      yield * page as Webinar[]
    }
  }

  const same = (a: unknown, email: string) => typeof a === 'string' && a.trim().toLowerCase() === email

  /** The person's registrations in one webinar, across every status (Zoom lists one status per call). */
  async function * registrations (webinarId: string, email: string, signal: AbortSignal): AsyncGenerator<Registrant & { status: string }> {
    for (const status of STATUSES) {
      // 404 (3001): the webinar was deleted since it was listed.
      for await (const page of pages('medium', '/webinars/{webinarId}/registrants', `/webinars/${webinarId}/registrants`, 'registrants', signal, { status }, [404])) {
        for (const r of page as Registrant[]) if (same(r.email, email)) yield { ...r, status: typeof r.status === 'string' ? r.status : status }
      }
    }
  }

  /** Report entries about the person; a webinar without a report (not held, too old: 404/3001, 400/12702) has none. */
  async function * reportEntries (webinarId: string, email: string, signal: AbortSignal): AsyncGenerator<{ stream: 'attendance' | 'qa' | 'polls', entry: Record<string, unknown>, index: number }> {
    if (!config.reports) return
    const noReport = [404, 400]
    let i = 0
    for await (const page of pages('heavy', '/report/webinars/{webinarId}/participants', `/report/webinars/${webinarId}/participants`, 'participants', signal, {}, noReport)) {
      for (const p of page as Array<Record<string, unknown>>) {
        if (same(p.user_email, email)) yield { stream: 'attendance', entry: p, index: i }
        i++
      }
    }
    for (const [stream, route] of [['qa', '/report/webinars/{webinarId}/qa'], ['polls', '/report/webinars/{webinarId}/polls']] as const) {
      const res = await call('GET', 'heavy', route, `/report/webinars/${webinarId}/${stream}`, signal, { accept: noReport })
      if (res.status !== 200) continue
      const questions = (res.body as { questions?: Array<Record<string, unknown>> }).questions ?? []
      for (const [j, q] of questions.entries()) if (same(q.email, email)) yield { stream, entry: q, index: j }
    }
  }

  const emailOf = (subject: { email?: string }) => subject.email?.trim().toLowerCase()

  return {
    async health ({ signal }): Promise<HealthResult> {
      const started = performance.now()
      try {
        const bounded = AbortSignal.any([signal, AbortSignal.timeout(HEALTH_TIMEOUT_MS)])
        await call('GET', 'medium', '/users/{userId}/webinars', `/users/${encodeURIComponent(config.user_id)}/webinars`, bounded,
          { query: { page_size: 1 }, retry: { attempts: 1 } })
        return { status: 'ok', latencyMs: Math.round(performance.now() - started) }
      } catch (err) {
        const e = err instanceof ConnectorError ? err : new ConnectorError(ConnectorErrorCodes.Internal, 'zoom health failed', { retryable: true })
        return { status: 'down', message: e.message, retryable: e.retryable }
      }
    },

    async * collect (ctx): AsyncIterable<CollectedItem> {
      const email = emailOf(ctx.subject)
      if (!email) return
      for await (const w of webinars(ctx.signal)) {
        const id = String(w.id)
        const webinar = { webinar_id: w.id, webinar_topic: w.topic, webinar_start_time: w.start_time }
        for await (const r of registrations(id, email, ctx.signal)) {
          yield { type: 'record', stream: 'registrations', key: `${id}:${String(r.id)}`, data: { ...webinar, ...r } }
        }
        for await (const { stream, entry, index } of reportEntries(id, email, ctx.signal)) {
          yield { type: 'record', stream, key: `${id}:${String(entry.id ?? index)}`, data: { ...webinar, ...entry } }
        }
      }
    },

    async * erase (ctx): AsyncIterable<EraseOutcome> {
      const email = emailOf(ctx.subject)
      let erased = 0
      const reports = new Set<string>()
      if (email) {
        for await (const w of webinars(ctx.signal)) {
          const id = String(w.id)
          // Listed first, then deleted: deleting while paging would shift the pages.
          const found: string[] = []
          for await (const r of registrations(id, email, ctx.signal)) if (typeof r.id === 'string') found.push(r.id)
          for (const registrantId of found) {
            const res = await call('DELETE', 'light', '/webinars/{webinarId}/registrants/{registrantId}',
              `/webinars/${id}/registrants/${encodeURIComponent(registrantId)}`, ctx.signal, { accept: [400, 404] })
            if (res.status === 204 || res.status === 200) erased++
            else if (res.status === 404 || (res.status === 400 && zoomCode(res) === 3000)) continue // already gone (3000) or webinar gone (3001)
            else throw classifyZoom('DELETE /webinars/{webinarId}/registrants/{registrantId}', res)
          }
          for await (const { stream } of reportEntries(id, email, ctx.signal)) reports.add(stream)
        }
      }
      yield erased > 0 ? { status: 'erased', stream: 'registrations', count: erased } : { status: 'not_found', stream: 'registrations' }
      for (const stream of ['attendance', 'qa', 'polls'] as const) {
        yield reports.has(stream) ? { status: 'retained', stream, reason: REPORT_RETAINED_REASON } : { status: 'not_found', stream }
      }
    }
  }
}
