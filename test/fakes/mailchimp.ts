import { createHash, randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { bodyJson, delay, listen, noFaults, seeded, send, type Call, type Faults, type Received } from './common.js'

/**
 * A stateful fake of the Mailchimp Marketing API 3.0 subset the connector uses: audiences, members by
 * subscriber hash, tags, activity feed, PATCH/PUT/POST members, archive, delete-permanent (with the
 * 400 "Forgotten Email Not Subscribed" on re-adding), problem+json errors, count/offset pagination,
 * and the 10-simultaneous-connections limit (429 TooManyRequests, no headers; counted in `violations`).
 */

export interface FakeMember {
  email: string
  status: 'subscribed' | 'unsubscribed' | 'cleaned' | 'pending' | 'transactional' | 'archived'
  fullName: string
  tags: string[]
  activity: Array<{ activity_type: string, created_at_timestamp: string, campaign_id: string, campaign_title: string }>
}

export interface MailchimpFakeState {
  lists: Map<string, { id: string, name: string, members: Map<string, FakeMember> }>
  /** Per audience: subscriber hashes permanently deleted. */
  forgotten: Map<string, Set<string>>
  calls: Call[]
  /** Calls that arrived while `maxConnections` were already in flight. */
  violations: number
  /** 429s injected by `faults.fail429Ratio` (not caused by our client). */
  injected429: number
  inFlight: number
  maxInFlight: number
}

export interface MailchimpFake {
  url: string
  /** Base URL for the connector: `<url>/3.0`. */
  baseUrl: string
  apiKey: string
  state: MailchimpFakeState
  faults: Faults
  maxConnections: number
  close (): Promise<void>
}

export const md5 = (email: string) => createHash('md5').update(email.toLowerCase()).digest('hex')

const problem = (status: number, title: string, detail: string) => ({
  type: 'https://mailchimp.com/developer/marketing/docs/errors/', title, status, detail, instance: randomUUID()
})

const activity = (n: number, campaign: string) => Array.from({ length: n }, (_, i) => ({
  activity_type: i % 2 === 0 ? 'open' : 'click',
  created_at_timestamp: new Date(Date.UTC(2024, 2, 1 + i, 8, 0, 0)).toISOString(),
  campaign_id: campaign,
  campaign_title: `Digest ${campaign}`
}))

/** Several people; Ada is in three of five audiences, with tags and a long activity feed. */
export function defaultSeed (): Array<{ id: string, name: string, members: FakeMember[] }> {
  const ada = (status: FakeMember['status'], n: number, c: string): FakeMember =>
    ({ email: 'Ada@Example.com', status, fullName: 'Ada Lovelace', tags: ['product-news', 'events', 'vip'], activity: activity(n, c) })
  return [
    { id: 'aud00001', name: 'Newsletter', members: [ada('subscribed', 5, 'c1'), { email: 'grace@example.com', status: 'subscribed', fullName: 'Grace Hopper', tags: ['product-news'], activity: activity(2, 'c1') }] },
    { id: 'aud00002', name: 'Product updates', members: [{ email: 'alan@example.com', status: 'subscribed', fullName: 'Alan Turing', tags: [], activity: [] }] },
    { id: 'aud00003', name: 'Events', members: [ada('pending', 1, 'c2'), { email: 'grace@example.com', status: 'unsubscribed', fullName: 'Grace Hopper', tags: [], activity: activity(1, 'c2') }] },
    { id: 'aud00004', name: 'Partners', members: [] },
    { id: 'aud00005', name: 'Customers', members: [ada('transactional', 0, 'c3'), { email: 'alan@example.com', status: 'cleaned', fullName: 'Alan Turing', tags: ['bounced'], activity: [] }] }
  ]
}

/**
 * `mergeFields: false` leaves merge_fields empty: the 3.0.76 subset spec types merge-field values as
 * objects (a codegen defect; the live API sends strings), so the Prism replay turns them off.
 */
export async function startMailchimpFake (opts: { apiKey?: string, maxConnections?: number, seed?: ReturnType<typeof defaultSeed>, randomSeed?: number, mergeFields?: boolean } = {}): Promise<MailchimpFake> {
  const apiKey = opts.apiKey ?? 'f4k3f4k3f4k3f4k3f4k3f4k3f4k3f4k3-us6'
  const maxConnections = opts.maxConnections ?? 10
  const random = seeded(opts.randomSeed ?? 42)
  const state: MailchimpFakeState = { lists: new Map(), forgotten: new Map(), calls: [], violations: 0, injected429: 0, inFlight: 0, maxInFlight: 0 }
  for (const l of opts.seed ?? defaultSeed()) {
    state.lists.set(l.id, { id: l.id, name: l.name, members: new Map(l.members.map((m) => [md5(m.email), { ...m, tags: [...m.tags], activity: [...m.activity] }])) })
    state.forgotten.set(l.id, new Set())
  }
  const faults = noFaults()

  const memberJson = (listId: string, hash: string, m: FakeMember) => ({
    id: hash,
    email_address: m.email,
    unique_email_id: hash.slice(0, 10),
    contact_id: hash.slice(0, 24),
    full_name: m.fullName,
    web_id: parseInt(hash.slice(0, 6), 16),
    email_type: 'html',
    status: m.status,
    consents_to_one_to_one_messaging: true,
    merge_fields: opts.mergeFields === false ? {} : { FNAME: m.fullName.split(' ')[0] ?? '', LNAME: m.fullName.split(' ').slice(1).join(' ') },
    interests: {},
    stats: { avg_open_rate: 0.5, avg_click_rate: 0.1 },
    ip_signup: '192.0.2.10',
    timestamp_signup: '2024-01-15T12:00:00+00:00',
    ip_opt: '192.0.2.10',
    timestamp_opt: '2024-01-15T12:01:00+00:00',
    member_rating: 3,
    last_changed: '2024-03-05T07:13:00+00:00',
    language: 'en',
    vip: false,
    email_client: 'Gmail',
    location: { latitude: 51.5, longitude: -0.12, gmtoff: 0, dstoff: 0, country_code: 'GB', timezone: 'Europe/London', region: 'England' },
    marketing_permissions: [],
    source: 'Hosted Signup Form',
    tags_count: m.tags.length,
    tags: m.tags.map((name, i) => ({ id: 1000 + i, name })),
    list_id: listId,
    _links: []
  })

  const page = <T>(items: T[], query: URLSearchParams): { slice: T[] } => {
    const count = Math.min(Number(query.get('count') ?? 10), 1000)
    const offset = Number(query.get('offset') ?? 0)
    return { slice: items.slice(offset, offset + count) }
  }

  async function route (req: IncomingMessage, res: ServerResponse, url: URL, received: Received): Promise<void> {
    const method = req.method ?? 'GET'
    const path = url.pathname.replace(/^\/3\.0/, '')
    if (method === 'GET' && path === '/ping') return send(res, 200, { health_status: "Everything's Chimpy!" })
    if (method === 'GET' && path === '/lists') {
      const all = [...state.lists.values()].map((l) => ({ id: l.id, web_id: 1, name: l.name, date_created: '2024-01-01T00:00:00+00:00', _links: [] }))
      return send(res, 200, { lists: page(all, url.searchParams).slice, total_items: all.length, constraints: { may_create: true, max_instances: 100, current_total_instances: all.length }, _links: [] })
    }
    const m = /^\/lists\/([^/]+)\/members(?:\/([^/]+))?(\/.*)?$/.exec(path)
    const list = m ? state.lists.get(decodeURIComponent(m[1]!)) : undefined
    if (!m || !list) return send(res, 404, problem(404, 'Resource Not Found', 'The requested resource could not be found.'), {}, 'application/problem+json')
    const forgotten = state.forgotten.get(list.id)!
    const notFound = () => send(res, 404, problem(404, 'Resource Not Found', 'The requested resource could not be found.'), {}, 'application/problem+json')
    let hash = m[2] ? decodeURIComponent(m[2]) : undefined
    if (hash?.includes('@')) hash = md5(hash)
    const sub = m[3] ?? ''

    if (!hash) {
      if (method === 'POST') {
        const body = bodyJson(received) as { email_address?: string, status?: string } | undefined
        if (!body?.email_address || !body.status) return send(res, 400, problem(400, 'Invalid Resource', 'The resource submitted could not be validated.'), {}, 'application/problem+json')
        const h = md5(body.email_address)
        if (forgotten.has(h)) return send(res, 400, problem(400, 'Forgotten Email Not Subscribed', `${body.email_address} was permanently deleted and cannot be re-imported. The contact must re-subscribe to get back on the list.`), {}, 'application/problem+json')
        if (list.members.has(h)) return send(res, 400, problem(400, 'Member Exists', `${body.email_address} is already a list member.`), {}, 'application/problem+json')
        const member: FakeMember = { email: body.email_address, status: body.status as FakeMember['status'], fullName: '', tags: [], activity: [] }
        list.members.set(h, member)
        return send(res, 200, memberJson(list.id, h, member))
      }
      return notFound()
    }
    const member = list.members.get(hash)

    if (sub === '' && method === 'PUT') {
      const body = bodyJson(received) as { email_address?: string, status_if_new?: string, status?: string } | undefined
      if (!body?.email_address || !body.status_if_new) return send(res, 400, problem(400, 'Invalid Resource', 'The resource submitted could not be validated.'), {}, 'application/problem+json')
      if (forgotten.has(hash)) return send(res, 400, problem(400, 'Forgotten Email Not Subscribed', `${body.email_address} was permanently deleted and cannot be re-imported. The contact must re-subscribe to get back on the list.`), {}, 'application/problem+json')
      const next: FakeMember = member ?? { email: body.email_address, status: body.status_if_new as FakeMember['status'], fullName: '', tags: [], activity: [] }
      if (member && body.status) next.status = body.status as FakeMember['status']
      list.members.set(hash, next)
      return send(res, 200, memberJson(list.id, hash, next))
    }
    if (!member) return notFound()
    if (sub === '' && method === 'GET') return send(res, 200, memberJson(list.id, hash, member))
    if (sub === '' && method === 'PATCH') {
      const body = bodyJson(received) as { status?: string } | undefined
      if (body?.status !== undefined) {
        if (!['subscribed', 'unsubscribed', 'cleaned', 'pending'].includes(body.status)) return send(res, 400, problem(400, 'Invalid Resource', 'The resource submitted could not be validated.'), {}, 'application/problem+json')
        member.status = body.status as FakeMember['status']
      }
      return send(res, 200, memberJson(list.id, hash, member))
    }
    if (sub === '' && method === 'DELETE') {
      if (member.status === 'archived' || member.status === 'pending' || member.status === 'cleaned') return send(res, 405, problem(405, 'Method Not Allowed', 'This list member cannot be removed.'), {}, 'application/problem+json')
      member.status = 'archived'
      return send(res, 204)
    }
    if (sub === '/actions/delete-permanent' && method === 'POST') {
      list.members.delete(hash)
      forgotten.add(hash)
      return send(res, 204)
    }
    if (sub === '/tags' && method === 'GET') {
      const tags = member.tags.map((name, i) => ({ id: 1000 + i, name, date_added: '2024-02-01T10:00:00+00:00' }))
      return send(res, 200, { tags: page(tags, url.searchParams).slice, total_items: tags.length, _links: [] })
    }
    if (sub === '/activity-feed' && method === 'GET') {
      return send(res, 200, { activity: page(member.activity, url.searchParams).slice, email_id: hash, list_id: list.id, _links: [] })
    }
    if (sub === '/activity' && method === 'GET') {
      const last = member.activity.slice(-50).map((a) => ({ action: a.activity_type, timestamp: a.created_at_timestamp, type: 'regular', campaign_id: a.campaign_id, title: a.campaign_title }))
      return send(res, 200, { activity: last, email_id: hash, list_id: list.id, total_items: last.length, _links: [] })
    }
    return notFound()
  }

  // Mailchimp limits connections at once, not calls per window: a call is in flight from when it has
  // arrived until it is answered.
  const server = await listen(async (req, res, received) => {
    const url = new URL(req.url ?? '/', 'http://fake')
    state.calls.push({ method: req.method ?? 'GET', path: url.pathname, query: Object.fromEntries(url.searchParams), at: received.at })
    state.inFlight++
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight)
    try {
      if (state.inFlight > maxConnections) {
        state.violations++
        return send(res, 429, problem(429, 'TooManyRequests', `You have exceeded the limit of ${maxConnections} simultaneous connections.`), {}, 'application/problem+json')
      }
      if (faults.latencyMs > 0) await delay(faults.latencyMs)
      const authz = req.headers.authorization ?? ''
      const basic = authz.startsWith('Basic ') ? Buffer.from(authz.slice(6), 'base64').toString('utf8').split(':').slice(1).join(':') : undefined
      const bearer = authz.startsWith('Bearer ') ? authz.slice(7) : undefined
      if (basic !== apiKey && bearer !== apiKey) {
        return send(res, 401, problem(401, 'API Key Invalid', 'Your API key may be invalid, or you\'ve attempted to access the wrong datacenter.'), {}, 'application/problem+json')
      }
      if (faults.failStatus && faults.failStatus.times > 0) {
        faults.failStatus.times--
        const s = faults.failStatus.status
        return send(res, s, problem(s, s === 429 ? 'TooManyRequests' : s >= 500 ? 'Internal Server Error' : 'Bad Request', 'Injected failure.'), {}, 'application/problem+json')
      }
      if (faults.fail429Ratio > 0 && random() < faults.fail429Ratio) {
        state.injected429++
        return send(res, 429, problem(429, 'TooManyRequests', `You have exceeded the limit of ${maxConnections} simultaneous connections.`), {}, 'application/problem+json')
      }
      await route(req, res, url, received)
    } finally {
      state.inFlight--
    }
  })
  return { url: server.url, baseUrl: `${server.url}/3.0`, apiKey, state, faults, maxConnections, close: server.close }
}
