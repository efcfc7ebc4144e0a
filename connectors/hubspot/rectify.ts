import { ConnectorError, ConnectorErrorCodes, type ConnectorContext, type RectifyOutcome } from '../types.js'
import { classifyHubspot, type HubspotApi } from './client.js'
import type { HubspotConfig } from './config.js'
import { findContacts } from './erase.js'

/**
 * Rectification field (as in a request's `changes`) → HubSpot contact property. All are HubSpot's
 * default contact properties, present in every account.
 *
 * | field            | HubSpot property |
 * |------------------|------------------|
 * | `email`          | `email` (the primary address; see below) |
 * | `first_name`     | `firstname`      |
 * | `last_name`      | `lastname`       |
 * | `phone`          | `phone`          |
 * | `mobile_phone`   | `mobilephone`    |
 * | `street_address` | `address`        |
 * | `city`           | `city`           |
 * | `state`          | `state`          |
 * | `postal_code`    | `zip`            |
 * | `country`        | `country`        |
 * | `company`        | `company`        |
 * | `job_title`      | `jobtitle`       |
 *
 * Field names are matched case-insensitively. HubSpot's own names of these properties (`firstname`,
 * `zip`, `address`, …) are accepted too; no other property can be set, so a request can never write
 * HubSpot's internal or read-only properties (`hs_*`, lifecycle stage, owner).
 */
export const HUBSPOT_RECTIFY_FIELDS: Readonly<Record<string, string>> = Object.freeze({
  email: 'email',
  first_name: 'firstname',
  last_name: 'lastname',
  phone: 'phone',
  mobile_phone: 'mobilephone',
  street_address: 'address',
  city: 'city',
  state: 'state',
  postal_code: 'zip',
  country: 'country',
  company: 'company',
  job_title: 'jobtitle'
})

const RECTIFIABLE_PROPERTIES = new Set(Object.values(HUBSPOT_RECTIFY_FIELDS))

/** The HubSpot property a field sets (by our name or HubSpot's), or undefined. Own keys only: `constructor` is no field. */
function propertyFor (field: string): string | undefined {
  const name = field.toLowerCase()
  return Object.hasOwn(HUBSPOT_RECTIFY_FIELDS, name) ? HUBSPOT_RECTIFY_FIELDS[name] : RECTIFIABLE_PROPERTIES.has(name) ? name : undefined
}

/** Stable codes of the permanent failures of a HubSpot rectification (none is retried). */
export const HubspotRectifyErrorCodes = {
  /**
   * A new value cannot be set: HubSpot refused it (400 VALIDATION_ERROR; the message names the
   * property and HubSpot's reason, e.g. INVALID_EMAIL, never the value), or it was refused before any
   * call (the e-mail cleared or not a single address; two fields giving one property different values).
   */
  ValueRejected: ConnectorErrorCodes.RectifyValueRejected,
  /** The new e-mail address is another HubSpot contact's primary address (409): merge the contacts first. */
  EmailConflict: ConnectorErrorCodes.RectifyEmailConflict,
  /**
   * The old address stays on a contact as an additional e-mail (`hs_additional_emails`), which
   * HubSpot's CRM API cannot change: a person must replace it in HubSpot, then retry the task.
   */
  AdditionalEmail: ConnectorErrorCodes.RectifyAdditionalEmail,
  /** HubSpot answered 200 but the contact read back does not hold the new address (retried). */
  NotApplied: ConnectorErrorCodes.RectifyNotApplied
} as const

/** A rectify outcome; `reason` names the fields HubSpot has no property for (names only, never values). */
export type HubspotRectifyOutcome = RectifyOutcome & { reason?: string }

export interface HubspotRectifyPlan {
  /** Properties set on every contact of the subject (not `email`). */
  properties: Record<string, string>
  /** The new primary address, trimmed and lower-cased, when the e-mail is rectified. */
  email?: string
  /** Fields with no HubSpot property, as given: left unchanged and named in the outcome. */
  unmapped: string[]
}

const rejected = (message: string) => new ConnectorError(HubspotRectifyErrorCodes.ValueRejected, message, { retryable: false })

/** One address, and nothing HubSpot would read as a list (`;`, `,`) or that holds a space. HubSpot checks the rest. */
const SINGLE_ADDRESS = /^[^\s@;,]+@[^\s@;,]+$/

/** Maps a request's changes onto HubSpot properties. Throws (before any call) what can never be applied. */
export function planHubspotRectify (changes: Record<string, string>): HubspotRectifyPlan {
  const properties: Record<string, string> = {}
  const setBy: Record<string, string> = {}
  const unmapped: string[] = []
  for (const [field, value] of Object.entries(changes)) {
    const property = propertyFor(field)
    if (property === undefined) {
      unmapped.push(field)
      continue
    }
    const v = property === 'email' ? value.trim().toLowerCase() : value
    if (property in properties && properties[property] !== v) {
      throw rejected(`fields ${setBy[property]} and ${field} both set hubspot property ${property}, to different values`)
    }
    properties[property] = v
    setBy[property] = field
  }
  const { email, ...rest } = properties
  if (email !== undefined) {
    if (email === '') throw rejected('the e-mail address cannot be cleared by rectification: a contact without it cannot be found again (erase instead)')
    if (!SINGLE_ADDRESS.test(email)) throw rejected('the new e-mail is not a single address')
  }
  return { properties: rest, ...(email !== undefined ? { email } : {}), unmapped }
}

const SAFE_NAME = /^[a-z0-9_]{1,100}$/
const SAFE_ENUM = /^[A-Z][A-Z_]{0,60}$/

/**
 * Which properties HubSpot refused and why, from a 400 VALIDATION_ERROR body. HubSpot puts the details
 * as a JSON array in `message` ("Property values were not valid: [{"name":…,"error":…,"message":…}]");
 * newer responses also have `errors[]`. Only property names and error enums are kept: the messages
 * quote the refused values.
 */
export function refusedProperties (body: unknown): Array<{ name: string, error: string }> {
  const out: Array<{ name: string, error: string }> = []
  const add = (name: unknown, error: unknown) => {
    if (typeof name === 'string' && SAFE_NAME.test(name) && !out.some((o) => o.name === name)) {
      out.push({ name, error: typeof error === 'string' && SAFE_ENUM.test(error) ? error : 'INVALID' })
    }
  }
  const b = (typeof body === 'object' && body !== null ? body : {}) as { message?: unknown, errors?: unknown }
  const at = typeof b.message === 'string' ? b.message.indexOf('[') : -1
  if (at >= 0) {
    try {
      const details = JSON.parse((b.message as string).slice(at)) as unknown
      if (Array.isArray(details)) for (const d of details as Array<{ name?: unknown, error?: unknown }>) add(d?.name, d?.error)
    } catch { /* not the usual shape: the category alone is reported */ }
  }
  if (Array.isArray(b.errors)) {
    for (const e of b.errors as Array<{ code?: unknown, context?: { propertyName?: unknown } }>) {
      const names = e?.context?.propertyName
      for (const n of Array.isArray(names) ? names : []) add(n, e?.code)
    }
  }
  return out
}

type PatchResult = 'patched' | 'gone'

async function patchContact (api: HubspotApi, id: string, properties: Record<string, string>, fieldOf: (p: string) => string, signal: AbortSignal): Promise<PatchResult> {
  const route = '/crm/v3/objects/contacts/{id}'
  const res = await api('PATCH', route, `/crm/v3/objects/contacts/${encodeURIComponent(id)}`,
    { signal, json: { properties }, accept: [400, 404, 409] })
  if (res.status === 404) return 'gone' // deleted since the search: nothing left to correct
  if (res.status === 409) {
    throw new ConnectorError(HubspotRectifyErrorCodes.EmailConflict,
      'hubspot refused the new e-mail address: another contact has it as its primary address (merge the contacts in HubSpot, then retry)',
      { retryable: false })
  }
  if (res.status === 400) {
    const category = (res.body as { category?: unknown } | undefined)?.category
    if (category !== 'VALIDATION_ERROR') throw classifyHubspot(`PATCH ${route}`, res)
    const refused = refusedProperties(res.body)
    const what = refused.length > 0
      ? refused.map((r) => `${fieldOf(r.name)}${fieldOf(r.name) !== r.name ? ` (property ${r.name})` : ''}: ${r.error}`).join('; ')
      : 'no property named'
    throw rejected(`hubspot refused the new value(s) (VALIDATION_ERROR): ${what}`)
  }
  return 'patched'
}

/**
 * Sets the mapped properties on every contact of the subject (found by primary or additional e-mail)
 * with one PATCH each; `""` clears a property. The person's other data in HubSpot is untouched.
 *
 * The e-mail is special, so that the person stays findable by the corrected address and the wrong one
 * does not linger: on a contact whose primary address is the subject's, `email` is replaced and read
 * back (the new address must be the primary one, the old one must not remain as an additional e-mail);
 * on a contact that holds the subject's address only as an additional e-mail, the primary (another
 * address of the person) is left alone, and since `hs_additional_emails` is read-only through the API,
 * the task fails with DSR_RECTIFY_ADDITIONAL_EMAIL once everything else is corrected, for a person to
 * replace the address in HubSpot and retry.
 *
 * Outcomes: `not_found` (no contact has the address; nothing is sent), or `rectified` with the number
 * of contacts changed. Fields with no HubSpot property are not dropped silently: the outcome's
 * `reason` names them (other systems may hold them). A re-run sets the same values again; once the
 * e-mail is corrected the old address finds nothing, so a re-run then yields `not_found`.
 */
export async function * rectifyHubspot (api: HubspotApi, config: HubspotConfig, ctx: ConnectorContext & { changes: Record<string, string> }): AsyncGenerator<HubspotRectifyOutcome> {
  const plan = planHubspotRectify(ctx.changes)
  const note = plan.unmapped.length > 0
    ? { reason: `no hubspot contact property for field(s) ${plan.unmapped.join(', ')}: left unchanged` }
    : {}
  if (Object.keys(plan.properties).length === 0 && plan.email === undefined) {
    ctx.log.info({ unmapped: plan.unmapped.length }, 'hubspot holds none of the fields to rectify')
    yield { status: 'rectified', stream: 'contacts', count: 0, ...note }
    return
  }
  const email = ctx.subject.email?.trim().toLowerCase()
  const contacts = email ? await findContacts(api, config, email, ctx.signal) : []
  if (!email || contacts.length === 0) {
    yield { status: 'not_found', stream: 'contacts', ...note }
    return
  }
  const fieldOf = (property: string) =>
    Object.keys(ctx.changes).find((f) => propertyFor(f) === property) ?? property
  const newEmail = plan.email !== undefined && plan.email !== email ? plan.email : undefined
  let count = 0
  let additional = 0
  const moved: string[] = []
  for (const c of contacts) {
    const primary = (c.properties.email ?? '').trim().toLowerCase()
    const properties = { ...plan.properties }
    if (plan.email !== undefined && primary === email) properties.email = plan.email
    else if (newEmail !== undefined) additional++
    if (Object.keys(properties).length === 0) continue
    if (await patchContact(api, c.id, properties, fieldOf, ctx.signal) === 'gone') continue
    count++
    if (newEmail !== undefined && properties.email !== undefined) moved.push(c.id)
  }
  for (const id of moved) {
    const res = await api('GET', '/crm/v3/objects/contacts/{id}', `/crm/v3/objects/contacts/${encodeURIComponent(id)}`,
      { signal: ctx.signal, query: { properties: 'email,hs_additional_emails', archived: 'false' }, accept: [404] })
    if (res.status === 404) continue
    const p = (res.body as { properties?: Record<string, string | null> }).properties ?? {}
    if ((p.email ?? '').trim().toLowerCase() !== newEmail) {
      throw new ConnectorError(HubspotRectifyErrorCodes.NotApplied, 'hubspot accepted the new e-mail address but the contact read back does not have it', { retryable: true })
    }
    if ((p.hs_additional_emails ?? '').toLowerCase().split(/[;,\s]+/).includes(email)) additional++
  }
  ctx.log.info({ count, properties: Object.keys(plan.properties).length + (plan.email !== undefined ? 1 : 0), unmapped: plan.unmapped.length }, 'hubspot contacts rectified')
  if (additional > 0) {
    throw new ConnectorError(HubspotRectifyErrorCodes.AdditionalEmail,
      `hubspot: ${count} contact(s) rectified, but ${additional} still hold(s) the old e-mail address as an additional e-mail, ` +
      'which the HubSpot API cannot change: replace it in HubSpot, then retry this task', { retryable: false })
  }
  yield { status: 'rectified', stream: 'contacts', count, ...note }
}
