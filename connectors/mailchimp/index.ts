import { createHash } from 'node:crypto'
import { Type, type Static } from 'typebox'
import { ConcurrencyLimiter, basicAuth, mapConcurrent, request, type HttpResponse, type RetryPolicy } from '../http/index.js'
import {
  ConnectorError, ConnectorErrorCodes, defineConnector, httpError,
  type Capability, type CollectedItem, type Connector, type ConnectorContext, type ConnectorDeps, type EraseOutcome,
  type HealthResult, type OptOutOutcome, type StreamInfo
} from '../types.js'

export const MailchimpConfigSchema = Type.Object({
  /** https://<dc>.api.mailchimp.com/3.0; derived from the API key's `-<dc>` suffix when absent. */
  base_url: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$' })),
  /** Secret: `{ "env": "MAILCHIMP_API_KEY" }`. Sent as HTTP Basic `anystring:<key>`. */
  api_key: Type.String({ minLength: 1 }),
  /** Mailchimp allows 10 simultaneous connections per user; shared by every task of this connector. */
  max_connections: Type.Integer({ minimum: 1, maximum: 10, default: 10 }),
  /** Page size for audiences and activity (Mailchimp's maximum is 1000). */
  page_size: Type.Integer({ minimum: 1, maximum: 1000, default: 1000 })
}, { additionalProperties: false })
export type MailchimpConfig = Static<typeof MailchimpConfigSchema>

export const MAILCHIMP_STREAMS: readonly StreamInfo[] = [
  { name: 'members', description: 'Audience memberships: profile, merge fields, consent and subscription status', categories: ['identity', 'contact', 'marketing'] },
  { name: 'tags', description: 'Tags set on the person in each audience', categories: ['marketing'] },
  { name: 'activity', description: 'Campaign activity (sends, opens, clicks, unsubscribes) per audience', categories: ['marketing', 'behavioural'] }
]

const HEALTH_TIMEOUT_MS = 5000

/**
 * Mailchimp Marketing API 3.0 (newsletter audiences). Finds the person in every audience by
 * subscriber hash, collects member, tags and activity feed, erases with `delete-permanent`, and
 * opts out by unsubscribing (never deleting) for capability `opt_out`.
 */
export const mailchimpConnector = defineConnector({
  driver: 'mailchimp',
  displayName: 'Mailchimp',
  version: 1,
  capabilities: ['collect', 'erase', 'opt_out'] satisfies Capability[],
  // Members are read by their subscriber hash in each audience, not searched: a permanent delete shows at once (404).
  erasureCheck: { searchable: true, settleMs: 0 },
  streams: MAILCHIMP_STREAMS,
  configSchema: MailchimpConfigSchema,
  secretFields: ['api_key'],
  create: (config: MailchimpConfig, deps: ConnectorDeps) => createMailchimpConnector(config, deps)
})

/** Mailchimp's member id: hex MD5 of the lower-cased e-mail address. */
export function subscriberHash (email: string): string {
  return createHash('md5').update(email.trim().toLowerCase()).digest('hex')
}

/** The API base from settings, or from the key's data-centre suffix (`…-us6` → us6). */
export function mailchimpBaseUrl (config: Pick<MailchimpConfig, 'base_url' | 'api_key'>): string {
  if (config.base_url) return config.base_url.replace(/\/+$/, '')
  const dc = /-([a-z]+[0-9]+)$/.exec(config.api_key)?.[1]
  if (!dc) throw new ConnectorError(ConnectorErrorCodes.Config, 'mailchimp: api_key has no data-centre suffix (-us6 etc.); set base_url', { retryable: false })
  return `https://${dc}.api.mailchimp.com/3.0`
}

const SAFE_TITLE = /^[A-Za-z][A-Za-z ]{0,60}$/

/** Maps Mailchimp's application/problem+json errors (type/title/status/detail/instance). Detail can quote the e-mail: never used. */
export function classifyMailchimp (route: string, res: HttpResponse): ConnectorError {
  const problem = (typeof res.body === 'object' && res.body !== null ? res.body : {}) as { title?: unknown }
  const title = typeof problem.title === 'string' && SAFE_TITLE.test(problem.title) ? problem.title : undefined
  const message = `mailchimp ${route} answered ${res.status}${title ? ` (${title})` : ''}`
  // Under very high volume Mailchimp answers 403 (or 429) with no body: that is throttling, not a permission problem.
  if (res.status === 403 && res.body === undefined) return new ConnectorError(ConnectorErrorCodes.RateLimited, message, { retryable: true })
  if (res.status === 400 && (title === 'Member In Compliance State' || title === 'Forgotten Email Not Subscribed')) {
    return new ConnectorError(ConnectorErrorCodes.BadRequest, message, { retryable: false })
  }
  return httpError(res.status, message, res.headers.get('retry-after'))
}

interface Member { id?: string, status?: string, [k: string]: unknown }

export interface MailchimpOptions {
  retry?: Partial<RetryPolicy>
}

export function createMailchimpConnector (config: MailchimpConfig, deps: ConnectorDeps, opts: MailchimpOptions = {}): Connector {
  const base = mailchimpBaseUrl(config)
  const auth = basicAuth('anystring', config.api_key)
  const connections = new ConcurrencyLimiter(config.max_connections)
  const pageSize = config.page_size

  const call = (method: 'GET' | 'POST' | 'PATCH', route: string, path: string, signal: AbortSignal,
    extra: { query?: Record<string, string | number>, json?: unknown, accept?: number[], retry?: Partial<RetryPolicy> } = {}) =>
    request({
      fetch: deps.fetch,
      vendor: 'mailchimp',
      method,
      url: base + path,
      route: `${method} ${route}`,
      authorization: () => auth,
      signal,
      limiters: [connections],
      classify: (res) => classifyMailchimp(`${method} ${route}`, res),
      log: deps.log,
      retry: { ...opts.retry, ...extra.retry },
      ...(extra.query ? { query: extra.query } : {}),
      ...(extra.json !== undefined ? { json: extra.json } : {}),
      ...(extra.accept ? { accept: extra.accept } : {})
    })

  /** Every audience id, page by page (count/offset to the end). */
  async function * audiencePages (signal: AbortSignal): AsyncGenerator<string[]> {
    for (let offset = 0; ;) {
      const res = await call('GET', '/lists', '/lists', signal, { query: { count: pageSize, offset, fields: 'lists.id,total_items' } })
      const body = res.body as { lists?: Array<{ id?: unknown }>, total_items?: unknown }
      const ids = (body.lists ?? []).map((l) => l.id).filter((id): id is string => typeof id === 'string')
      if (ids.length > 0) yield ids
      offset += body.lists?.length ?? 0
      const total = typeof body.total_items === 'number' ? body.total_items : undefined
      if ((body.lists?.length ?? 0) === 0 || (total !== undefined ? offset >= total : (body.lists?.length ?? 0) < pageSize)) return
    }
  }

  const memberPath = (listId: string, hash: string) => `/lists/${encodeURIComponent(listId)}/members/${hash}`

  /** The member in each audience of `ids` that holds them (404: not in that audience), looked up in parallel. */
  async function membersIn (ids: string[], hash: string, signal: AbortSignal): Promise<Array<{ listId: string, member: Member }>> {
    const found = await mapConcurrent(ids, config.max_connections, async (listId) => {
      const res = await call('GET', '/lists/{list_id}/members/{subscriber_hash}', memberPath(listId, hash), signal, { accept: [404] })
      return res.status === 404 ? undefined : { listId, member: res.body as Member }
    })
    return found.filter((x): x is { listId: string, member: Member } => x !== undefined)
  }

  function hashOf (ctx: ConnectorContext): string | undefined {
    return ctx.subject.email ? subscriberHash(ctx.subject.email) : undefined
  }

  const strip = ({ _links, ...rest }: Record<string, unknown>) => rest

  async function * paged<T> (route: string, path: string, field: string, signal: AbortSignal): AsyncGenerator<{ item: T, index: number }> {
    for (let offset = 0; ;) {
      const res = await call('GET', route, path, signal, { query: { count: pageSize, offset }, accept: [404] })
      if (res.status === 404) return
      const body = res.body as Record<string, unknown>
      const page = Array.isArray(body[field]) ? body[field] as T[] : []
      for (const [i, item] of page.entries()) yield { item, index: offset + i }
      offset += page.length
      const total = typeof body.total_items === 'number' ? body.total_items : undefined
      if (page.length === 0 || (total !== undefined ? offset >= total : page.length < pageSize)) return
    }
  }

  return {
    async health ({ signal }): Promise<HealthResult> {
      const started = performance.now()
      try {
        await call('GET', '/ping', '/ping', AbortSignal.any([signal, AbortSignal.timeout(HEALTH_TIMEOUT_MS)]), { retry: { attempts: 1 } })
        return { status: 'ok', latencyMs: Math.round(performance.now() - started) }
      } catch (err) {
        const e = err instanceof ConnectorError ? err : new ConnectorError(ConnectorErrorCodes.Internal, 'mailchimp health failed', { retryable: true })
        return { status: 'down', message: e.message, retryable: e.retryable }
      }
    },

    async * collect (ctx): AsyncIterable<CollectedItem> {
      const hash = hashOf(ctx)
      if (!hash) return
      for await (const ids of audiencePages(ctx.signal)) {
        for (const { listId, member } of await membersIn(ids, hash, ctx.signal)) {
          const base = memberPath(listId, hash)
          yield { type: 'record', stream: 'members', key: `${listId}:${String(member.id ?? hash)}`, data: strip(member) }
          for await (const { item } of paged<Record<string, unknown>>('/lists/{list_id}/members/{subscriber_hash}/tags', `${base}/tags`, 'tags', ctx.signal)) {
            yield { type: 'record', stream: 'tags', key: `${listId}:${String(item.id ?? item.name)}`, data: { list_id: listId, member_id: hash, ...strip(item) } }
          }
          for await (const { item, index } of paged<Record<string, unknown>>('/lists/{list_id}/members/{subscriber_hash}/activity-feed', `${base}/activity-feed`, 'activity', ctx.signal)) {
            yield { type: 'record', stream: 'activity', key: `${listId}:${index}`, data: { list_id: listId, member_id: hash, ...strip(item) } }
          }
        }
      }
    },

    async * erase (ctx): AsyncIterable<EraseOutcome> {
      const hash = hashOf(ctx)
      let erased = 0
      if (hash) {
        for await (const ids of audiencePages(ctx.signal)) {
          for (const { listId } of await membersIn(ids, hash, ctx.signal)) {
            // Irreversible: the address can never be re-added to this audience by us (Mailchimp answers 400).
            const res = await call('POST', '/lists/{list_id}/members/{subscriber_hash}/actions/delete-permanent',
              `${memberPath(listId, hash)}/actions/delete-permanent`, ctx.signal, { accept: [404] })
            if (res.status !== 404) erased++
          }
        }
      }
      // Deleting the member deletes its tags and activity with it: one count (audiences) for all three.
      for (const s of MAILCHIMP_STREAMS) {
        yield erased > 0 ? { status: 'erased', stream: s.name, count: erased } : { status: 'not_found', stream: s.name }
      }
    },

    async * optOut (ctx): AsyncIterable<OptOutOutcome> {
      const hash = hashOf(ctx)
      const marketing = ctx.purposes.includes('marketing')
      // Mailchimp sends marketing, and unsubscribing is the only opt-out its API records for a member.
      const others = ctx.purposes.filter((p) => p !== 'marketing')
      let present = 0
      let changed = 0
      if (hash) {
        for await (const ids of audiencePages(ctx.signal)) {
          for (const { listId, member } of await membersIn(ids, hash, ctx.signal)) {
            present++
            // Only marketing subscriptions change; cleaned, archived and transactional members get no marketing anyway.
            if (!marketing || (member.status !== 'subscribed' && member.status !== 'pending')) continue
            await call('PATCH', '/lists/{list_id}/members/{subscriber_hash}', memberPath(listId, hash), ctx.signal, { json: { status: 'unsubscribed' } })
            changed++
          }
        }
      }
      if (present === 0) {
        yield { status: 'not_found', stream: 'members' }
        return
      }
      if (marketing) yield { status: 'opted_out', stream: 'members', count: changed, purposes: ['marketing'] }
      if (others.length > 0) {
        yield { status: 'not_supported', stream: 'members', purposes: others, reason: 'Mailchimp records only an unsubscription from marketing: stop the other purposes where the audience is shared or analysed' }
      }
    }
  }
}
