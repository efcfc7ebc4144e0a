import type { ServerResponse } from 'node:http'
import { WindowCounter, delay, listen, noFaults, sendJson } from './common.js'

/**
 * A stateful Zendesk Support fake written from shared/vendor-contracts/README.md §2: user search
 * (offset pages), identities, requested tickets and comments (cursor pages), attachments, ticket
 * deletion, soft then permanent user deletion, the account's per-minute limit and the separate
 * permanent-deletion limit (429 with Retry-After in seconds, text/plain).
 */
export interface ZendeskFakeOptions {
  email?: string
  apiToken?: string
  perMinute?: number
  deletedUsersPer10Minutes?: number
  /** Retry-After (seconds) sent with injected 429s. */
  faultRetryAfterSeconds?: number
  random?: () => number
}

const T0 = '2025-02-01T10:00:00Z'
interface User { id: number, name: string, email: string, role: string, state: 'active' | 'soft_deleted' | 'purged', identities: Array<{ id: number, type: string, value: string }> }
interface Attachment { id: number, file_name: string, content_type: string, bytes: Buffer }
interface Comment { id: number, author_id: number, body: string, attachments: Attachment[] }
interface Ticket { id: number, requester_id: number, subject: string, state: 'open' | 'deleted' | 'purged', comments: Comment[] }

export const ATTACHMENT_BYTES = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 31) % 251))

export function seedZendesk () {
  const users = new Map<number, User>()
  const u = (id: number, name: string, email: string, extra: string[] = []) => users.set(id, {
    id,
    name,
    email,
    role: 'end-user',
    state: 'active',
    identities: [email, ...extra].map((value, i) => ({ id: id * 10 + i, type: 'email', value }))
  })
  u(1, 'Agent Smith', 'agent@helpdesk.example')
  u(11, 'Ada Lovelace', 'ada@example.com', ['countess@old.example'])
  u(12, 'Grace Hopper', 'grace@example.com')
  u(13, 'Alan Turing', 'alan@example.com')
  u(14, 'Ada Lovelace-Byron', 'ada.byron@example.com')
  const tickets = new Map<number, Ticket>()
  const t = (id: number, requester: number, subject: string, comments: Comment[]) => tickets.set(id, { id, requester_id: requester, subject, state: 'open', comments })
  t(101, 11, 'Engine does not start', [
    { id: 1001, author_id: 11, body: 'It will not start. Photo attached.', attachments: [{ id: 5001, file_name: 'engine.png', content_type: 'image/png', bytes: ATTACHMENT_BYTES }] },
    { id: 1002, author_id: 1, body: 'Have you tried turning it off and on?', attachments: [] }
  ])
  t(102, 11, 'Invoice question', [{ id: 1003, author_id: 11, body: 'Where is my invoice?', attachments: [{ id: 5002, file_name: 'notes.txt', content_type: 'text/plain', bytes: Buffer.from('card 1: 0101\n') }] }])
  t(103, 11, 'Change of address', [{ id: 1004, author_id: 11, body: 'I moved.', attachments: [] }])
  t(104, 12, 'Compiler bug', [{ id: 1005, author_id: 12, body: 'Found a moth.', attachments: [] }])
  return { users, tickets }
}

export async function startZendeskFake (opts: ZendeskFakeOptions = {}) {
  const auth = `Basic ${Buffer.from(`${opts.email ?? 'agent@helpdesk.example'}/token:${opts.apiToken ?? 'zd-test-token'}`).toString('base64')}`
  const random = opts.random ?? Math.random
  const account = new WindowCounter(opts.perMinute ?? 200, 60_000)
  const deletions = new WindowCounter(opts.deletedUsersPer10Minutes ?? 700, 600_000)
  const state = {
    ...seedZendesk(),
    calls: 0,
    callsByRoute: {} as Record<string, number>,
    /** Mutating calls in order, for erase-order assertions. */
    log: [] as string[],
    violations: 0,
    injected429: 0,
    faults: noFaults()
  }
  let base = ''
  const notFound = (res: ServerResponse) => sendJson(res, 404, { error: 'RecordNotFound', description: 'Not found' })
  const tooMany = (res: ServerResponse, seconds: number) => {
    res.writeHead(429, { 'content-type': 'text/plain', 'Retry-After': String(seconds) })
    res.end('Number of allowed API requests per minute exceeded')
  }
  const userJson = (u: User) => ({
    id: u.id,
    url: `${base}/api/v2/users/${u.id}.json`,
    name: u.name,
    email: u.email,
    role: u.role,
    active: u.state === 'active',
    verified: true,
    locale: 'en-US',
    locale_id: 1,
    time_zone: 'London',
    iana_time_zone: 'Europe/London',
    organization_id: 900,
    phone: null,
    photo: null,
    shared_phone_number: null,
    tags: [],
    user_fields: {},
    created_at: T0,
    updated_at: T0
  })
  const deletedUserJson = (u: User) => ({
    id: u.id,
    url: `${base}/api/v2/deleted_users/${u.id}.json`,
    name: u.name,
    email: u.email,
    role: u.role,
    active: false,
    locale: 'en-US',
    locale_id: 1,
    organization_id: 900,
    time_zone: 'London',
    phone: null,
    photo: null,
    shared_phone_number: null,
    created_at: T0,
    updated_at: T0
  })
  const ticketJson = (t: Ticket) => ({
    id: t.id,
    url: `${base}/api/v2/tickets/${t.id}.json`,
    subject: t.subject,
    raw_subject: t.subject,
    description: t.comments[0]?.body ?? '',
    status: 'open',
    priority: 'normal',
    type: 'question',
    requester_id: t.requester_id,
    submitter_id: t.requester_id,
    assignee_id: 1,
    organization_id: 900,
    group_id: 1,
    collaborator_ids: [],
    follower_ids: [],
    email_cc_ids: [],
    tags: [],
    custom_fields: [],
    via: { channel: 'email' },
    created_at: T0,
    updated_at: T0
  })
  const commentJson = (c: Comment) => ({
    id: c.id,
    type: 'Comment',
    author_id: c.author_id,
    body: c.body,
    html_body: `<p>${c.body}</p>`,
    plain_body: c.body,
    public: true,
    audit_id: c.id + 1,
    created_at: T0,
    via: { channel: 'web', source: {} },
    metadata: { system: { client: 'Mozilla/5.0', ip_address: '192.0.2.1' } },
    attachments: c.attachments.map((a) => ({
      id: a.id,
      file_name: a.file_name,
      content_type: a.content_type,
      size: a.bytes.length,
      inline: false,
      deleted: false,
      content_url: `${base}/attachments/token/tok${a.id}/?name=${encodeURIComponent(a.file_name)}`,
      mapped_content_url: `${base}/attachments/token/tok${a.id}/?name=${encodeURIComponent(a.file_name)}`,
      url: `${base}/api/v2/attachments/${a.id}.json`,
      malware_scan_result: 'malware_not_found',
      thumbnails: []
    }))
  })
  /** Cursor pagination: page[size] (≤100) and page[after]; meta + links. */
  const cursorPage = <T>(res: ServerResponse, url: URL, key: string, items: T[]) => {
    const size = Math.min(100, Number(url.searchParams.get('page[size]') ?? 100))
    const from = Number(url.searchParams.get('page[after]') ?? 0)
    const more = from + size < items.length
    const next = new URL(url.toString()); next.searchParams.set('page[after]', String(from + size))
    sendJson(res, 200, {
      [key]: items.slice(from, from + size),
      meta: { has_more: more, after_cursor: more ? String(from + size) : null, before_cursor: from > 0 ? String(from) : null },
      links: { next: more ? `${base}${next.pathname}${next.search}` : null, prev: null }
    })
  }

  const server = await listen(async (req, res, received) => {
    const url = new URL(req.url ?? '/', 'http://fake')
    const path = url.pathname.replace(/\.json$/, '')
    const route = `${req.method} ${path.replace(/\/\d+(?=\/|$)/g, '/{id}')}`
    state.calls++
    state.callsByRoute[route] = (state.callsByRoute[route] ?? 0) + 1
    if (state.faults.latencyMs > 0) await delay(state.faults.latencyMs)
    const attachment = /^\/attachments\/token\/tok(\d+)\/$/.exec(url.pathname)
    if (!attachment && req.headers.authorization !== auth) return sendJson(res, 401, { error: "Couldn't authenticate you" })
    if (account.hit(received)) { state.violations++; return tooMany(res, account.resetSeconds()) }
    const permanent = req.method === 'DELETE' && path.startsWith('/api/v2/deleted_users/')
    if (permanent && deletions.hit(received)) { state.violations++; return tooMany(res, deletions.resetSeconds()) }
    if (state.faults.fail429Ratio > 0 && random() < state.faults.fail429Ratio) { state.injected429++; return tooMany(res, opts.faultRetryAfterSeconds ?? 1) }
    if (state.faults.failStatus && state.faults.failStatus.times > 0) {
      state.faults.failStatus.times--
      return sendJson(res, state.faults.failStatus.status, { error: 'ServiceUnavailable', description: 'Try again later' })
    }
    let m: RegExpExecArray | null
    if (attachment) {
      const a = [...state.tickets.values()].filter((t) => t.state === 'open').flatMap((t) => t.comments.flatMap((c) => c.attachments)).find((x) => x.id === Number(attachment[1]))
      if (!a) return notFound(res)
      res.writeHead(200, { 'content-type': a.content_type, 'content-length': String(a.bytes.length) })
      // Sent in pieces, as a large download would arrive.
      for (let i = 0; i < a.bytes.length; i += 16_384) res.write(a.bytes.subarray(i, i + 16_384))
      res.end()
      return
    }
    if (req.method === 'GET' && path === '/api/v2/users/me') return sendJson(res, 200, { user: userJson(state.users.get(1)!) })
    if (req.method === 'GET' && path === '/api/v2/users/search') {
      const q = /^email:(.+)$/.exec(url.searchParams.get('query') ?? '')?.[1]?.toLowerCase() ?? ''
      // Like Zendesk's search, matches loosely (prefix of any e-mail identity): the connector must check.
      const hits = [...state.users.values()].filter((u) => u.state === 'active' && q && u.identities.some((i) => i.value.toLowerCase().startsWith(q.replace(/@.*/, ''))))
      const perPage = Math.min(100, Number(url.searchParams.get('per_page') ?? 100))
      const page = Number(url.searchParams.get('page') ?? 1)
      const nextUrl = new URL(`${base}/api/v2/users/search.json`)
      nextUrl.searchParams.set('query', url.searchParams.get('query') ?? ''); nextUrl.searchParams.set('per_page', String(perPage)); nextUrl.searchParams.set('page', String(page + 1))
      return sendJson(res, 200, {
        users: hits.slice((page - 1) * perPage, page * perPage).map(userJson),
        next_page: page * perPage < hits.length ? nextUrl.toString() : null,
        previous_page: null,
        count: hits.length
      })
    }
    if ((m = /^\/api\/v2\/users\/(\d+)\/identities$/.exec(path)) && req.method === 'GET') {
      const u = state.users.get(Number(m[1]))
      if (!u || u.state !== 'active') return notFound(res)
      return cursorPage(res, url, 'identities', u.identities.map((i, n) => ({ ...i, user_id: u.id, verified: true, primary: n === 0, created_at: T0, updated_at: T0, url: `${base}/api/v2/users/${u.id}/identities/${i.id}.json` })))
    }
    if ((m = /^\/api\/v2\/users\/(\d+)\/tickets\/requested$/.exec(path)) && req.method === 'GET') {
      const u = state.users.get(Number(m[1]))
      if (!u || u.state !== 'active') return notFound(res)
      return cursorPage(res, url, 'tickets', [...state.tickets.values()].filter((t) => t.state === 'open' && t.requester_id === u.id).map(ticketJson))
    }
    if ((m = /^\/api\/v2\/tickets\/(\d+)\/comments$/.exec(path)) && req.method === 'GET') {
      const t = state.tickets.get(Number(m[1]))
      if (!t || t.state !== 'open') return notFound(res)
      return cursorPage(res, url, 'comments', t.comments.map(commentJson))
    }
    if ((m = /^\/api\/v2\/tickets\/(\d+)$/.exec(path)) && req.method === 'DELETE') {
      const t = state.tickets.get(Number(m[1]))
      if (!t || t.state !== 'open') return notFound(res)
      t.state = 'deleted'; state.log.push(`delete ticket ${t.id}`)
      res.writeHead(204).end()
      return
    }
    if ((m = /^\/api\/v2\/deleted_tickets\/(\d+)$/.exec(path)) && req.method === 'DELETE') {
      const t = state.tickets.get(Number(m[1]))
      if (!t || t.state !== 'deleted') return notFound(res)
      // Permanently deleted: Zendesk keeps nothing of the ticket, its comments or attachments.
      t.state = 'purged'; t.subject = ''; t.comments = []; state.log.push(`purge ticket ${t.id}`)
      return sendJson(res, 200, { job_status: { id: `job${t.id}`, job_type: 'TicketDeletionJob', status: 'queued', progress: null, total: 1, message: null, results: null, url: `${base}/api/v2/job_statuses/job${t.id}.json` } })
    }
    if ((m = /^\/api\/v2\/users\/(\d+)$/.exec(path)) && req.method === 'DELETE') {
      const u = state.users.get(Number(m[1]))
      if (!u || u.state !== 'active') return notFound(res)
      u.state = 'soft_deleted'; state.log.push(`soft-delete user ${u.id}`)
      return sendJson(res, 200, { user: userJson(u) })
    }
    if (path === '/api/v2/deleted_users' && req.method === 'GET') {
      return cursorPage(res, url, 'deleted_users', [...state.users.values()].filter((u) => u.state === 'soft_deleted').map(deletedUserJson))
    }
    if ((m = /^\/api\/v2\/deleted_users\/(\d+)$/.exec(path)) && req.method === 'DELETE') {
      // Only a soft-deleted user can be deleted for good; an active or unknown one is not among deleted users.
      const u = state.users.get(Number(m[1]))
      if (!u || u.state !== 'soft_deleted') return notFound(res)
      const answer = deletedUserJson(u)
      // Permanently deleted: only the id remains, scrubbed of name, e-mail and identities.
      u.state = 'purged'; u.name = 'Permanently deleted user'; u.email = ''; u.identities = []; state.log.push(`purge user ${u.id}`)
      return sendJson(res, 200, { deleted_user: answer })
    }
    return notFound(res)
  })
  base = server.url
  return { url: server.url, state, close: server.close }
}

export type ZendeskFake = Awaited<ReturnType<typeof startZendeskFake>>
