import type { CollectedItem, ConnectorContext } from '../types.js'
import type { ZendeskApi } from './client.js'
import type { ZendeskConfig } from './config.js'

export interface ZendeskUser { id: number, email?: string | null, [k: string]: unknown }
interface Identity { id: number, type?: string, value?: string, [k: string]: unknown }
interface Ticket { id: number, [k: string]: unknown }
interface Attachment { id: number, file_name?: string, content_url?: string, content_type?: string, deleted?: boolean, [k: string]: unknown }
interface Comment { id: number, attachments?: Attachment[], [k: string]: unknown }

interface CursorPage { meta?: { has_more?: boolean, after_cursor?: string | null }, links?: { next?: string | null } }

/**
 * Walks a cursor-paginated list (`page[size]`, `page[after]`; `meta.has_more` and `meta.after_cursor`)
 * to its end, yielding the items under `key`.
 */
export async function * cursorList<T> (api: ZendeskApi, config: ZendeskConfig, route: string, path: string, key: string, signal: AbortSignal, query: Record<string, string> = {}): AsyncGenerator<T> {
  let after: string | undefined
  for (;;) {
    const res = await api.call('GET', route, path, { signal, query: { ...query, 'page[size]': config.page_size, 'page[after]': after } })
    const page = res.body as CursorPage & Record<string, unknown>
    for (const item of (page[key] as T[] | undefined) ?? []) yield item
    const next = page.meta?.has_more ? page.meta.after_cursor : undefined
    if (!next) return
    after = next
  }
}

/**
 * Users whose e-mail is exactly the subject's. User search matches loosely (any identity, partial
 * values), so each hit is checked: its primary e-mail, else its e-mail identities. Offset pagination:
 * `next_page` is followed until null.
 */
export async function * findUsers (api: ZendeskApi, config: ZendeskConfig, email: string, signal: AbortSignal): AsyncGenerator<ZendeskUser> {
  let next: string | null | undefined = '/api/v2/users/search'
  let first = true
  while (next) {
    const res = await api.call('GET', '/api/v2/users/search', next, { signal, ...(first ? { query: { query: `email:${email}`, per_page: config.page_size } } : {}) })
    first = false
    const page = res.body as { users?: ZendeskUser[], next_page?: string | null }
    for (const user of page.users ?? []) {
      if ((user.email ?? '').toLowerCase() === email || await hasEmailIdentity(api, config, user.id, email, signal)) yield user
    }
    next = page.next_page
  }
}

async function hasEmailIdentity (api: ZendeskApi, config: ZendeskConfig, userId: number, email: string, signal: AbortSignal): Promise<boolean> {
  for await (const i of identities(api, config, userId, signal)) {
    if (i.type === 'email' && (i.value ?? '').toLowerCase() === email) return true
  }
  return false
}

const identities = (api: ZendeskApi, config: ZendeskConfig, userId: number, signal: AbortSignal) =>
  cursorList<Identity>(api, config, '/api/v2/users/{id}/identities', `/api/v2/users/${userId}/identities`, 'identities', signal)

/** Tickets the user requested (List Tickets, docs: cursor pagination). */
export const requestedTickets = (api: ZendeskApi, config: ZendeskConfig, userId: number, signal: AbortSignal) =>
  cursorList<Ticket>(api, config, '/api/v2/users/{id}/tickets/requested', `/api/v2/users/${userId}/tickets/requested`, 'tickets', signal)

/**
 * The user's profile and identities, the tickets they requested with every comment, and the
 * comments' attachments as files streamed from `content_url` when the archive reads them.
 */
export async function * collectZendesk (api: ZendeskApi, config: ZendeskConfig, ctx: ConnectorContext): AsyncGenerator<CollectedItem> {
  const email = ctx.subject.email?.trim().toLowerCase()
  if (!email) return
  const { signal } = ctx
  for await (const user of findUsers(api, config, email, signal)) {
    yield { type: 'record', stream: 'users', key: `user:${user.id}`, data: { ...user } }
    for await (const i of identities(api, config, user.id, signal)) {
      yield { type: 'record', stream: 'identities', key: `identity:${i.id}`, data: { ...i } }
    }
    for await (const ticket of requestedTickets(api, config, user.id, signal)) {
      yield { type: 'record', stream: 'tickets', key: `ticket:${ticket.id}`, data: { ...ticket } }
      const comments = cursorList<Comment>(api, config, '/api/v2/tickets/{id}/comments', `/api/v2/tickets/${ticket.id}/comments`, 'comments', signal)
      for await (const comment of comments) {
        yield { type: 'record', stream: 'comments', key: `comment:${comment.id}`, data: { ...comment, ticket_id: ticket.id } }
        for (const a of comment.attachments ?? []) {
          const url = a.content_url
          if (a.deleted || !url) continue
          yield {
            type: 'file',
            stream: 'attachments',
            key: `attachment:${a.id}`,
            name: a.file_name ?? `attachment-${a.id}`,
            contentType: a.content_type ?? 'application/octet-stream',
            open: () => api.open(url, signal)
          }
        }
      }
    }
  }
}
