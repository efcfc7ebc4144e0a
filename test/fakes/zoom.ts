import { randomBytes } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { WindowCounter, delay, listen, noFaults, seeded, send, type Call, type Faults } from './common.js'

/**
 * A stateful fake of the Zoom API subset the connector uses: Server-to-Server OAuth token endpoint,
 * webinars of a host, registrants per status, registrant delete (400 code 3000 when already gone),
 * webinar reports (participants, Q&A, polls), next_page_token pagination, `{ code, message }` errors,
 * and per-second rate limits per category with Zoom's 429 and X-RateLimit-* headers (`violations`).
 */

export type Category = 'Light' | 'Medium' | 'Heavy'

export interface FakeRegistrant { id: string, email: string, first_name: string, last_name: string, status: 'approved' | 'pending' | 'denied', create_time: string }
export interface FakeWebinar {
  id: number
  uuid: string
  topic: string
  start_time: string
  registrants: FakeRegistrant[]
  /** Present when the webinar has been held. */
  report?: {
    participants: Array<{ id: string, name: string, user_email: string, registrant_id: string, join_time: string, leave_time: string, duration: number }>
    qa: Array<{ name: string, email: string, question_details: Array<{ question: string, answer: string }> }>
    polls: Array<{ name: string, email: string, question_details: Array<{ question: string, answer: string, polling_id: string, date_time: string }> }>
  }
}

export interface ZoomFakeState {
  webinars: FakeWebinar[]
  /** Registrants already deleted but still shown in listings (Zoom's lists lag behind): DELETE answers 400/3000. */
  ghosts: Array<{ webinarId: number, registrant: FakeRegistrant }>
  tokensIssued: number
  calls: Call[]
  /** Calls over the per-second limit of their category (each answered with a vendor 429). */
  violations: number
  /** 429s injected by `faults.fail429Ratio` (not caused by our client). */
  injected429: number
  perCategory: Record<Category, number>
}

export interface ZoomFake {
  url: string
  baseUrl: string
  tokenUrl: string
  accountId: string
  clientId: string
  clientSecret: string
  state: ZoomFakeState
  faults: Faults
  limits: Record<Category, number>
  /** Seconds a token lives. */
  tokenTtl: number
  /** Forget every token (as if they all expired). */
  expireTokens (): void
  close (): Promise<void>
}

const reg = (n: number, email: string, first: string, last: string, status: FakeRegistrant['status']): FakeRegistrant =>
  ({ id: `r${String(n).padStart(4, '0')}Zx`, email, first_name: first, last_name: last, status, create_time: `2024-05-0${1 + (n % 8)}T10:00:00Z` })

/** Ada registered for four webinars in all three statuses; Grace attended one and asked and voted there. */
export function defaultSeed (): FakeWebinar[] {
  const filler = (from: number, wid: number) => Array.from({ length: 5 }, (_, i) => reg(from + i, `guest${wid}-${i}@example.org`, 'Guest', String(i), 'approved'))
  return [
    {
      id: 81000000001,
      uuid: 'aW1vbmtleTE9PQ==',
      topic: 'Intro to data subject requests',
      start_time: '2024-05-10T15:00:00Z',
      registrants: [reg(1, 'ada@example.com', 'Ada', 'Lovelace', 'approved'), reg(2, 'Grace@Example.com', 'Grace', 'Hopper', 'approved'), ...filler(100, 1)],
      report: {
        participants: [
          { id: 'p1', name: 'Grace Hopper', user_email: 'grace@example.com', registrant_id: 'r0002Zx', join_time: '2024-05-10T15:01:00Z', leave_time: '2024-05-10T15:55:00Z', duration: 3240 },
          { id: 'p2', name: 'Guest 0', user_email: 'guest1-0@example.org', registrant_id: 'r0100Zx', join_time: '2024-05-10T15:00:00Z', leave_time: '2024-05-10T15:30:00Z', duration: 1800 },
          { id: 'p3', name: 'Guest 1', user_email: 'guest1-1@example.org', registrant_id: 'r0101Zx', join_time: '2024-05-10T15:00:00Z', leave_time: '2024-05-10T15:30:00Z', duration: 1800 }
        ],
        qa: [{ name: 'Grace Hopper', email: 'grace@example.com', question_details: [{ question: 'Does this cover backups?', answer: 'Yes, within the retention period.' }] }],
        polls: [
          { name: 'Grace Hopper', email: 'grace@example.com', question_details: [{ question: 'Do you run DSARs by hand?', answer: 'Yes', polling_id: 'poll1', date_time: '2024-05-10T15:20:00Z' }] },
          { name: 'Guest 0', email: 'guest1-0@example.org', question_details: [{ question: 'Do you run DSARs by hand?', answer: 'No', polling_id: 'poll1', date_time: '2024-05-10T15:20:00Z' }] }
        ]
      }
    },
    { id: 81000000002, uuid: 'aW1vbmtleTI9PQ==', topic: 'Privacy engineering', start_time: '2024-06-12T15:00:00Z', registrants: [reg(3, 'ada@example.com', 'Ada', 'Lovelace', 'pending'), reg(4, 'alan@example.com', 'Alan', 'Turing', 'approved')], report: { participants: [], qa: [], polls: [] } },
    { id: 81000000003, uuid: 'aW1vbmtleTM9PQ==', topic: 'Consent management', start_time: '2030-01-15T15:00:00Z', registrants: [reg(5, 'ADA@example.com', 'Ada', 'Lovelace', 'denied'), ...filler(200, 3)] },
    { id: 81000000004, uuid: 'aW1vbmtleTQ9PQ==', topic: 'Retention schedules', start_time: '2030-02-15T15:00:00Z', registrants: [reg(6, 'ada@example.com', 'Ada', 'Lovelace', 'approved')] },
    { id: 81000000005, uuid: 'aW1vbmtleTU9PQ==', topic: 'Vendor management', start_time: '2030-03-15T15:00:00Z', registrants: [reg(7, 'alan@example.com', 'Alan', 'Turing', 'pending')] }
  ]
}

/** The default webinars, with Ada also in the first webinar's report: she attended, asked a question and voted. */
export function seedWithAdaInReports (): FakeWebinar[] {
  const seed = defaultSeed()
  const report = seed[0]!.report!
  report.participants.push({ id: 'p4', name: 'Ada Lovelace', user_email: 'ada@example.com', registrant_id: 'r0001Zx', join_time: '2024-05-10T15:02:00Z', leave_time: '2024-05-10T15:58:00Z', duration: 3360 })
  report.qa.push({ name: 'Ada Lovelace', email: 'ada@example.com', question_details: [{ question: 'Can I get my data as CSV?', answer: 'Yes, in the archive.' }] })
  report.polls.push({ name: 'Ada Lovelace', email: 'ada@example.com', question_details: [{ question: 'Do you run DSARs by hand?', answer: 'No', polling_id: 'poll1', date_time: '2024-05-10T15:20:00Z' }] })
  return seed
}

const CATEGORY_OF = (method: string, path: string): Category =>
  path.startsWith('/report/') ? 'Heavy' : method === 'DELETE' || /\/registrants\/[^/]+$/.test(path) ? 'Light' : 'Medium'

export async function startZoomFake (opts: { limits?: Partial<Record<Category, number>>, seed?: FakeWebinar[], randomSeed?: number, tokenTtl?: number } = {}): Promise<ZoomFake> {
  const limits: Record<Category, number> = { Light: 30, Medium: 20, Heavy: 10, ...opts.limits }
  const accountId = 'acct_F4ke'
  const clientId = 'client_F4ke'
  const clientSecret = 's3cr3t_F4ke'
  const random = seeded(opts.randomSeed ?? 7)
  const faults = noFaults()
  const state: ZoomFakeState = { webinars: structuredClone(opts.seed ?? defaultSeed()), ghosts: [], tokensIssued: 0, calls: [], violations: 0, injected429: 0, perCategory: { Light: 0, Medium: 0, Heavy: 0 } }
  const tokens = new Map<string, number>()
  // Zoom's per-second limit of each category, for the account.
  const windows: Record<Category, WindowCounter> = { Light: new WindowCounter(limits.Light, 1000), Medium: new WindowCounter(limits.Medium, 1000), Heavy: new WindowCounter(limits.Heavy, 1000) }
  const fake = { tokenTtl: opts.tokenTtl ?? 3600 }

  const err = (res: ServerResponse, status: number, code: number, message: string, headers: Record<string, string> = {}) =>
    send(res, status, { code, message }, headers)
  const tooMany = (res: ServerResponse, category: Category) => err(res, 429, 429, 'You have reached the maximum per-second rate limit for this API. Try again later.', {
    'x-ratelimit-category': category, 'x-ratelimit-type': 'QPS', 'x-ratelimit-limit': String(limits[category]), 'x-ratelimit-remaining': '0'
  })

  /** Opaque next_page_token over an offset; "" on the last page. */
  const paginate = <T>(items: T[], q: URLSearchParams) => {
    const size = Math.min(Number(q.get('page_size') ?? 30), 300)
    const tok = q.get('next_page_token')
    const offset = tok ? Number(Buffer.from(tok, 'base64url').toString('utf8').split(':')[1] ?? 'NaN') : 0
    if (Number.isNaN(offset)) return undefined
    const slice = items.slice(offset, offset + size)
    const nextOffset = offset + slice.length
    return {
      slice,
      meta: { page_size: size, total_records: items.length, next_page_token: nextOffset < items.length ? Buffer.from(`o:${nextOffset}`).toString('base64url') : '' }
    }
  }

  function route (req: IncomingMessage, res: ServerResponse, url: URL): void {
    const method = req.method ?? 'GET'
    const path = url.pathname.replace(/^\/v2/, '')
    const q = url.searchParams
    const badToken = () => err(res, 400, 300, 'The next page token is invalid or expired.')
    let m: RegExpExecArray | null
    if (method === 'GET' && (m = /^\/users\/([^/]+)\/webinars$/.exec(path))) {
      if (m[1] !== 'me' && m[1] !== 'host@example.com') return err(res, 404, 1001, `User does not exist: ${m[1]}.`)
      const p = paginate(state.webinars, q)
      if (!p) return badToken()
      return send(res, 200, {
        ...p.meta,
        webinars: p.slice.map((w) => ({ id: w.id, uuid: w.uuid, host_id: 'h0stF4ke', topic: w.topic, type: 5, start_time: w.start_time, duration: 60, timezone: 'UTC', created_at: '2024-04-01T09:00:00Z', join_url: `https://zoom.example/w/${w.id}`, is_simulive: false }))
      })
    }
    m = /^\/(?:webinars|report\/webinars)\/(\d+)/.exec(path)
    const w = m ? state.webinars.find((x) => x.id === Number(m![1])) : undefined
    if (m && !w) return err(res, 404, 3001, `Webinar does not exist: ${m[1]}.`)
    if (!w) return err(res, 404, 404, 'Not found')
    const regJson = (r: FakeRegistrant) => ({ ...r, join_url: `https://zoom.example/w/${w.id}?tk=${r.id}`, custom_questions: [], comments: '' })
    if (method === 'GET' && path === `/webinars/${w.id}/registrants`) {
      const status = q.get('status') ?? 'approved'
      if (!['approved', 'pending', 'denied'].includes(status)) return err(res, 400, 300, 'Invalid field.')
      const listed = [...w.registrants, ...state.ghosts.filter((g) => g.webinarId === w.id).map((g) => g.registrant)].filter((r) => r.status === status)
      const p = paginate(listed, q)
      if (!p) return badToken()
      return send(res, 200, { ...p.meta, registrants: p.slice.map(regJson) })
    }
    if ((m = /^\/webinars\/\d+\/registrants\/([^/]+)$/.exec(path))) {
      const id = decodeURIComponent(m[1]!)
      const i = w.registrants.findIndex((r) => r.id === id)
      if (method === 'GET') return i < 0 ? err(res, 400, 3079, `Registrant ${id} does not exist.`) : send(res, 200, regJson(w.registrants[i]!))
      if (method === 'DELETE') {
        if (i < 0) return err(res, 400, 3000, `Registrant ${id} was not found.`)
        w.registrants.splice(i, 1)
        return send(res, 204)
      }
    }
    if (method === 'GET' && path.startsWith('/report/webinars/')) {
      if (!w.report) return err(res, 404, 3001, `Webinar "${w.id}" not found or has expired`)
      if (path.endsWith('/participants')) {
        const p = paginate(w.report.participants, q)
        if (!p) return badToken()
        return send(res, 200, { ...p.meta, participants: p.slice.map((x) => ({ ...x, user_id: '16778240', participant_user_id: '', failover: false, status: 'in_meeting' })) })
      }
      if (path.endsWith('/qa')) return send(res, 200, { id: w.id, uuid: w.uuid, start_time: w.start_time, questions: w.report.qa.map((x) => ({ ...x, user_id: '16778240' })) })
      if (path.endsWith('/polls')) return send(res, 200, { id: w.id, uuid: w.uuid, start_time: w.start_time, questions: w.report.polls.map((x) => ({ ...x, first_name: x.name.split(' ')[0], last_name: x.name.split(' ').slice(1).join(' ') })) })
    }
    return err(res, 404, 404, 'Not found')
  }

  const server = await listen(async (req, res, received) => {
    const url = new URL(req.url ?? '/', 'http://fake')
    state.calls.push({ method: req.method ?? 'GET', path: url.pathname, query: Object.fromEntries(url.searchParams), at: received.at })
    if (url.pathname === '/oauth/token') {
      const authz = req.headers.authorization ?? ''
      const [id, secret] = authz.startsWith('Basic ') ? Buffer.from(authz.slice(6), 'base64').toString('utf8').split(':') : []
      if (req.method !== 'POST' || url.searchParams.get('grant_type') !== 'account_credentials') return send(res, 400, { reason: 'Unsupported grant type', error: 'unsupported_grant_type' })
      if (id !== clientId || secret !== clientSecret) return send(res, 400, { reason: 'Invalid client_id or client_secret', error: 'invalid_client' })
      if (url.searchParams.get('account_id') !== accountId) return send(res, 400, { reason: 'Invalid account_id', error: 'invalid_request' })
      const token = randomBytes(16).toString('hex')
      tokens.set(token, Date.now() + fake.tokenTtl * 1000)
      state.tokensIssued++
      return send(res, 200, { access_token: token, token_type: 'bearer', expires_in: fake.tokenTtl, scope: 'webinar:read:admin webinar:write:admin report:read:admin', api_url: 'https://api.zoom.us' })
    }
    const path = url.pathname.replace(/^\/v2/, '')
    const category = CATEGORY_OF(req.method ?? 'GET', path)
    state.perCategory[category]++
    if (windows[category].hit(received)) {
      state.violations++
      return tooMany(res, category)
    }
    if (faults.latencyMs > 0) await delay(faults.latencyMs)
    const bearer = (req.headers.authorization ?? '').replace(/^Bearer /, '')
    const exp = tokens.get(bearer)
    if (exp === undefined || exp < Date.now()) return err(res, 401, 124, 'Invalid access token.')
    if (faults.failStatus && faults.failStatus.times > 0) {
      faults.failStatus.times--
      if (faults.failStatus.status === 429) return tooMany(res, category)
      return err(res, faults.failStatus.status, faults.failStatus.status >= 500 ? 500 : 300, 'Injected failure.')
    }
    if (faults.fail429Ratio > 0 && random() < faults.fail429Ratio) {
      state.injected429++
      return tooMany(res, category)
    }
    route(req, res, url)
  })

  return {
    url: server.url,
    baseUrl: `${server.url}/v2`,
    tokenUrl: `${server.url}/oauth/token`,
    accountId,
    clientId,
    clientSecret,
    state,
    faults,
    limits,
    get tokenTtl () { return fake.tokenTtl },
    set tokenTtl (v: number) { fake.tokenTtl = v },
    expireTokens: () => tokens.clear(),
    close: server.close
  }
}
