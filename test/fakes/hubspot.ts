import { randomUUID } from 'node:crypto'
import type { ServerResponse } from 'node:http'
import { WindowCounter, bodyText, delay, listen, noFaults, sendJson } from './common.js'

/**
 * A stateful HubSpot CRM fake (v3 objects and search, v4 associations, GDPR delete) written from the
 * contract summary in shared/vendor-contracts/README.md §1. Enforces the 10-second burst limit and the
 * search API's 4 per second, counting our client's overruns in `state.violations`.
 */
export interface HubspotFakeOptions {
  token?: string
  per10s?: number
  searchPerSecond?: number
  /** Sent as Retry-After with injected 429s (some gateways add one; HubSpot itself does not). */
  faultRetryAfterSeconds?: number
  random?: () => number
}

interface Version { value: string, timestamp: string, sourceType: string, sourceId?: string, updatedByUserId?: number }
interface Obj { id: string, properties: Record<string, string>, history: Record<string, Version[]>, createdAt: string, updatedAt: string }
type Assoc = Map<string, Map<string, string[]>> // contactId → type → ids

export const TYPES = ['companies', 'deals', 'tickets', 'notes', 'emails', 'calls', 'meetings'] as const
const ENGAGEMENTS = new Set(['notes', 'emails', 'calls', 'meetings'])
const T0 = '2025-01-10T09:00:00.000Z'

/**
 * The account's contact properties, as HubSpot defines them by default: a PATCH of any other name is
 * refused (PROPERTY_DOESNT_EXIST), and of a read-only one too (READ_ONLY_VALUE): HubSpot calculates
 * those, and `hs_additional_emails` can only be changed in HubSpot's UI.
 */
const CONTACT_PROPERTIES: Record<string, { readOnly: boolean }> = Object.fromEntries([
  ...['email', 'firstname', 'lastname', 'phone', 'mobilephone', 'address', 'city', 'state', 'zip', 'country', 'company', 'jobtitle', 'website', 'lifecyclestage']
    .map((name) => [name, { readOnly: false }]),
  ...['hs_additional_emails', 'hs_object_id', 'createdate', 'lastmodifieddate'].map((name) => [name, { readOnly: true }])
])
/** HubSpot refuses an address without a dotted domain, among others. */
const VALID_EMAIL = /^[^\s@;,]+@[^\s@;,]+\.[A-Za-z]{2,}$/

function obj (id: string, properties: Record<string, string>): Obj {
  const history: Record<string, Version[]> = {}
  for (const [k, v] of Object.entries(properties)) history[k] = [{ value: v, timestamp: T0, sourceType: 'CRM_UI', sourceId: 'userId:1', updatedByUserId: 1 }]
  return { id, properties: { hs_object_id: id, createdate: T0, ...properties }, history, createdAt: T0, updatedAt: T0 }
}

export function seedHubspot () {
  const contacts = new Map<string, Obj>()
  const ada = obj('101', { email: 'ada@example.com', firstname: 'Ada', lastname: 'Lovelace', phone: '+447700900001' })
  ada.history.firstname!.push({ value: 'Augusta', timestamp: '2024-05-01T10:00:00.000Z', sourceType: 'IMPORT' })
  for (const c of [
    ada,
    obj('102', { email: 'ada.lovelace@work.example', firstname: 'Ada', lastname: 'King', hs_additional_emails: 'ada@example.com;countess@old.example' }),
    obj('103', { email: 'grace@example.com', firstname: 'Grace', lastname: 'Hopper' }),
    obj('104', { email: 'alan@example.com', firstname: 'Alan', lastname: 'Turing' })
  ]) contacts.set(c.id, c)
  const objects: Record<string, Map<string, Obj>> = Object.fromEntries(TYPES.map((t) => [t, new Map<string, Obj>()]))
  const put = (type: string, id: string, p: Record<string, string>) => objects[type]!.set(id, obj(id, p))
  put('companies', '201', { name: 'Analytical Engines Ltd', domain: 'engines.example' })
  put('deals', '301', { dealname: 'Engine No. 1', amount: '1200' })
  put('deals', '302', { dealname: 'Engine No. 2', amount: '800' })
  put('deals', '303', { dealname: 'Compiler', amount: '500' })
  put('tickets', '801', { subject: 'Punch cards jam' })
  put('notes', '401', { hs_note_body: 'Called about the engine', hs_timestamp: T0 })
  put('notes', '402', { hs_note_body: 'Grace asked for a demo', hs_timestamp: T0 })
  put('emails', '501', { hs_email_subject: 'Your order', hs_email_text: 'Dear Ada', hs_timestamp: T0 })
  put('calls', '601', { hs_call_title: 'Intro call', hs_timestamp: T0 })
  put('meetings', '701', { hs_meeting_title: 'Demo', hs_timestamp: T0 })
  const associations: Assoc = new Map([
    ['101', new Map([['companies', ['201']], ['deals', ['301', '302']], ['tickets', ['801']], ['notes', ['401']], ['emails', ['501']], ['calls', ['601']], ['meetings', ['701']]])],
    ['102', new Map([['deals', ['302']]])],
    ['103', new Map([['companies', ['201']], ['deals', ['303']], ['notes', ['402']]])]
  ])
  return { contacts, objects, associations }
}

export async function startHubspotFake (opts: HubspotFakeOptions = {}) {
  const token = opts.token ?? 'hs-test-token'
  const random = opts.random ?? Math.random
  const seed = seedHubspot()
  const burst = new WindowCounter(opts.per10s ?? 100, 10_000)
  const searchWindow = new WindowCounter(opts.searchPerSecond ?? 4, 1000)
  const state = {
    ...seed,
    blocklist: new Set<string>(),
    calls: 0,
    callsByRoute: {} as Record<string, number>,
    violations: 0,
    injected429: 0,
    faults: noFaults(),
    nextId: 1000
  }
  const error = (res: ServerResponse, status: number, category: string, message: string, extra: Record<string, string> = {}) =>
    sendJson(res, status, { status: 'error', message, correlationId: randomUUID(), category }, extra)
  const tooMany = (res: ServerResponse, policy: 'TEN_SECONDLY_ROLLING' | 'SECONDLY', headers: Record<string, string>) =>
    sendJson(res, 429, {
      status: 'error',
      message: `You have reached your ${policy.toLowerCase()} limit.`,
      errorType: 'RATE_LIMIT',
      correlationId: randomUUID(),
      policyName: policy,
      requestId: randomUUID()
    }, headers)
  const view = (o: Obj, props: string[] | undefined, withHistory: string[] | undefined) => {
    const names = props ?? ['createdate', 'email', 'firstname', 'hs_object_id', 'lastmodifieddate', 'lastname']
    const properties: Record<string, string | null> = { hs_object_id: o.id, createdate: o.createdAt, lastmodifieddate: o.updatedAt }
    for (const p of names) if (p in o.properties) properties[p] = o.properties[p] ?? null
    const out: Record<string, unknown> = { id: o.id, properties, createdAt: o.createdAt, updatedAt: o.updatedAt, archived: false }
    if (withHistory) out.propertiesWithHistory = Object.fromEntries(withHistory.filter((p) => o.history[p]).map((p) => [p, o.history[p]]))
    return out
  }
  const findByEmail = (email: string) => [...state.contacts.values()].find((c) => c.properties.email?.toLowerCase() === email.toLowerCase())
  const matches = (c: Obj, f: { propertyName: string, operator: string, value?: string }) => {
    const v = (c.properties[f.propertyName] ?? '').toLowerCase()
    const want = String(f.value ?? '').toLowerCase()
    if (f.operator === 'EQ') return v === want
    if (f.operator === 'CONTAINS_TOKEN') return v.split(/[;,\s]+/).includes(want)
    throw new Error(`operator ${f.operator} not faked`)
  }

  const server = await listen(async (req, res, received) => {
    const raw = bodyText(received)
    const url = new URL(req.url ?? '/', 'http://fake')
    const path = url.pathname
    const isSearch = req.method === 'POST' && /\/search$/.test(path)
    const route = `${req.method} ${path.replace(/\/\d+(?=\/|$)/g, '/{id}').replace(/contacts\/[^/]*@[^/]*/, 'contacts/{email}')}`
    state.calls++
    state.callsByRoute[route] = (state.callsByRoute[route] ?? 0) + 1
    if (state.faults.latencyMs > 0) await delay(state.faults.latencyMs)
    if (req.headers.authorization !== `Bearer ${token}`) return error(res, 401, 'INVALID_AUTHENTICATION', 'Authentication credentials not found.')
    const overBurst = burst.hit(received)
    const overSearch = isSearch && searchWindow.hit(received)
    const limitHeaders: Record<string, string> = isSearch
      ? {}
      : { 'X-HubSpot-RateLimit-Interval-Milliseconds': '10000', 'X-HubSpot-RateLimit-Max': String(burst.limit), 'X-HubSpot-RateLimit-Remaining': String(burst.remaining) }
    if (overBurst || overSearch) {
      state.violations++
      return tooMany(res, overSearch ? 'SECONDLY' : 'TEN_SECONDLY_ROLLING', limitHeaders)
    }
    if (state.faults.fail429Ratio > 0 && random() < state.faults.fail429Ratio) {
      state.injected429++
      return tooMany(res, isSearch ? 'SECONDLY' : 'TEN_SECONDLY_ROLLING',
        { ...limitHeaders, ...(opts.faultRetryAfterSeconds !== undefined ? { 'Retry-After': String(opts.faultRetryAfterSeconds) } : {}) })
    }
    if (state.faults.failStatus && state.faults.failStatus.times > 0) {
      state.faults.failStatus.times--
      return error(res, state.faults.failStatus.status, 'INTERNAL_ERROR', 'internal error')
    }
    const body = raw ? JSON.parse(raw) as Record<string, any> : {}
    let m: RegExpExecArray | null
    if (req.method === 'POST' && path === '/crm/v3/objects/contacts/search') {
      const limit = Number(body.limit ?? 10)
      if (limit > 200) return error(res, 400, 'VALIDATION_ERROR', 'limit must be at most 200')
      const groups = (body.filterGroups ?? []) as Array<{ filters: Array<{ propertyName: string, operator: string, value?: string }> }>
      const hits = [...state.contacts.values()].filter((c) => groups.length === 0 || groups.some((g) => g.filters.every((f) => matches(c, f))))
        .sort((a, b) => Number(a.id) - Number(b.id))
      const from = Number(body.after ?? 0)
      const page = hits.slice(from, from + limit)
      const next = from + limit < hits.length ? String(from + limit) : undefined
      return sendJson(res, 200, {
        total: hits.length,
        results: page.map((c) => view(c, body.properties, undefined)),
        ...(next ? { paging: { next: { after: next, link: `?after=${next}` } } } : {})
      })
    }
    if (req.method === 'GET' && path === '/crm/v3/properties/contacts') {
      return sendJson(res, 200, {
        results: Object.entries(CONTACT_PROPERTIES).map(([name, p]) => ({
          name,
          label: name,
          type: 'string',
          fieldType: 'text',
          groupName: 'contactinformation',
          modificationMetadata: { archivable: false, readOnlyDefinition: true, readOnlyValue: p.readOnly }
        }))
      }, limitHeaders)
    }
    if (req.method === 'GET' && path === '/crm/v3/objects/contacts') {
      const limit = Number(url.searchParams.get('limit') ?? 10)
      return sendJson(res, 200, { results: [...state.contacts.values()].slice(0, limit).map((c) => view(c, undefined, undefined)) }, limitHeaders)
    }
    if (req.method === 'POST' && path === '/crm/v3/objects/contacts') {
      const email = String(body.properties?.email ?? '').toLowerCase()
      if (state.blocklist.has(email)) return error(res, 400, 'VALIDATION_ERROR', 'Cannot create a contact with a GDPR-blocklisted email address', limitHeaders)
      if (email && findByEmail(email)) return error(res, 409, 'CONFLICT', 'Contact already exists', limitHeaders)
      const c = obj(String(state.nextId++), body.properties ?? {})
      state.contacts.set(c.id, c)
      return sendJson(res, 201, view(c, Object.keys(body.properties ?? {}), undefined), limitHeaders)
    }
    if (req.method === 'POST' && path === '/crm/v3/objects/contacts/gdpr-delete') {
      const objectId = String(body.objectId ?? '')
      const c = body.idProperty === 'email' ? findByEmail(objectId) : state.contacts.get(objectId)
      if (!c) {
        if (body.idProperty !== 'email') return error(res, 404, 'OBJECT_NOT_FOUND', 'resource not found', limitHeaders)
        state.blocklist.add(objectId.toLowerCase())
        res.writeHead(204, limitHeaders).end()
        return
      }
      state.contacts.delete(c.id)
      for (const [type, ids] of state.associations.get(c.id) ?? []) {
        if (!ENGAGEMENTS.has(type)) continue
        for (const id of ids) {
          const elsewhere = [...state.associations].some(([cid, m]) => cid !== c.id && m.get(type)?.includes(id))
          if (!elsewhere) state.objects[type]!.delete(id)
        }
      }
      state.associations.delete(c.id)
      res.writeHead(204, limitHeaders).end()
      return
    }
    if ((m = /^\/crm\/v3\/objects\/contacts\/([^/]+)$/.exec(path)) && (req.method === 'GET' || req.method === 'PATCH')) {
      const key = decodeURIComponent(m[1]!)
      const c = url.searchParams.get('idProperty') === 'email' ? findByEmail(key) : state.contacts.get(key)
      if (!c) return error(res, 404, 'OBJECT_NOT_FOUND', 'resource not found', limitHeaders)
      if (req.method === 'PATCH') {
        const changes = (body.properties ?? {}) as Record<string, unknown>
        // HubSpot checks every property first and applies nothing if one is refused.
        const invalid = Object.entries(changes).flatMap(([name, v]) => {
          const refuse = (error: string, message: string) => [{ isValid: false, message, error, name, localizedErrorMessage: message }]
          const known = CONTACT_PROPERTIES[name]
          if (!known) return refuse('PROPERTY_DOESNT_EXIST', `Property "${name}" does not exist`)
          if (known.readOnly) return refuse('READ_ONLY_VALUE', `"${name}" is a read only property; its value cannot be set.`)
          if (name === 'email' && v !== '' && !VALID_EMAIL.test(String(v))) return refuse('INVALID_EMAIL', `Email address ${v} is invalid`)
          return []
        })
        if (invalid.length > 0) {
          return error(res, 400, 'VALIDATION_ERROR', `Property values were not valid: ${JSON.stringify(invalid)}`, limitHeaders)
        }
        const newEmail = changes.email !== undefined ? String(changes.email).toLowerCase() : undefined
        const holder = newEmail ? findByEmail(newEmail) : undefined
        if (holder && holder.id !== c.id) return error(res, 409, 'CONFLICT', `Contact already exists. Existing ID: ${holder.id}`, limitHeaders)
        const now = new Date(Math.max(Date.now(), Date.parse(c.updatedAt) + 1)).toISOString()
        let changed = false
        for (const [k, raw] of Object.entries(changes)) {
          const v = k === 'email' ? String(raw).toLowerCase() : String(raw) // HubSpot stores every value as a string
          if (c.properties[k] === v) continue // an unchanged value makes no new version
          changed = true
          c.properties[k] = v
          c.history[k] = [{ value: v, timestamp: now, sourceType: 'INTEGRATION', sourceId: 'app:dsar' }, ...(c.history[k] ?? [])]
        }
        if (changed) c.updatedAt = now
        return sendJson(res, 200, view(c, Object.keys(changes), undefined), limitHeaders)
      }
      const props = url.searchParams.get('properties')?.split(',')
      const hist = url.searchParams.get('propertiesWithHistory')?.split(',')
      return sendJson(res, 200, view(c, props, hist), limitHeaders)
    }
    if ((m = /^\/crm\/v4\/objects\/contacts\/(\d+)\/associations\/(\w+)$/.exec(path)) && req.method === 'GET') {
      const ids = state.associations.get(m[1]!)?.get(m[2]!) ?? []
      const limit = Number(url.searchParams.get('limit') ?? 500)
      const from = Number(url.searchParams.get('after') ?? 0)
      const next = from + limit < ids.length ? String(from + limit) : undefined
      return sendJson(res, 200, {
        results: ids.slice(from, from + limit).map((id) => ({ toObjectId: Number(id), associationTypes: [{ category: 'HUBSPOT_DEFINED', typeId: 1, label: null }] })),
        ...(next ? { paging: { next: { after: next, link: `?after=${next}` } } } : {})
      }, limitHeaders)
    }
    if ((m = /^\/crm\/v3\/objects\/(\w+)\/batch\/read$/.exec(path)) && req.method === 'POST') {
      const store = m[1] === 'contacts' ? state.contacts : state.objects[m[1]!]
      if (!store) return error(res, 404, 'OBJECT_NOT_FOUND', 'unknown object type', limitHeaders)
      const now = new Date().toISOString()
      const ids = ((body.inputs ?? []) as Array<{ id: string }>).map((i) => String(i.id))
      if (body.propertiesWithHistory && ids.length > 50) return error(res, 400, 'VALIDATION_ERROR', 'at most 50 inputs with propertiesWithHistory', limitHeaders)
      const found = ids.map((id) => store.get(id)).filter((o): o is Obj => o !== undefined)
      const missing = ids.filter((id) => !store.has(id))
      return sendJson(res, missing.length > 0 ? 207 : 200, {
        status: 'COMPLETE',
        results: found.map((o) => view(o, body.properties, body.propertiesWithHistory)),
        startedAt: now,
        completedAt: now,
        ...(missing.length > 0 ? { numErrors: 1, errors: [{ status: 'error', category: 'OBJECT_NOT_FOUND', message: 'Could not get some objects' }] } : {})
      }, limitHeaders)
    }
    return error(res, 404, 'OBJECT_NOT_FOUND', 'no such route', limitHeaders)
  })
  return { url: server.url, token, state, close: server.close }
}

export type HubspotFake = Awaited<ReturnType<typeof startHubspotFake>>
