import type { ConnectorContext, EraseOutcome } from '../types.js'
import type { HubspotApi } from './client.js'
import { associatedIds, searchContacts, type HubspotObject } from './collect.js'
import { KEPT_REASON, type HubspotConfig } from './config.js'

/**
 * The subject's contacts: by search (primary or additional e-mail), and by a direct read with
 * `idProperty=email`, because search is eventually consistent and can miss a contact created seconds ago.
 * Each comes with its `email` and `hs_additional_emails`.
 */
export async function findContacts (api: HubspotApi, config: HubspotConfig, email: string, signal: AbortSignal): Promise<HubspotObject[]> {
  const found = new Map<string, HubspotObject>()
  for await (const c of searchContacts(api, config, email, signal)) found.set(c.id, c)
  const direct = await api('GET', '/crm/v3/objects/contacts/{email}', `/crm/v3/objects/contacts/${encodeURIComponent(email)}`,
    { signal, query: { idProperty: 'email', properties: 'email,hs_additional_emails', archived: 'false' }, accept: [404] })
  if (direct.status === 200) {
    const c = direct.body as HubspotObject
    if (!found.has(c.id)) found.set(c.id, c)
  }
  return [...found.values()]
}

/** Associated records HubSpot's GDPR delete leaves in place: shared business records, not the person's activity. */
const KEPT_TYPES = ['companies', 'deals', 'tickets'] as const

export { KEPT_REASON } from './config.js'

const gdprDelete = (api: HubspotApi, body: { objectId: string, idProperty?: 'email' }, signal: AbortSignal) =>
  api('POST', '/crm/v3/objects/contacts/gdpr-delete', '/crm/v3/objects/contacts/gdpr-delete', { signal, json: body })

/**
 * GDPR-deletes every contact of the subject: by e-mail where it is the contact's primary address, by
 * id where the subject's address is one of its additional e-mails. HubSpot's GDPR delete is permanent
 * and removes the contact's activity; associated companies, deals and tickets are separate records.
 */
export async function * eraseHubspot (api: HubspotApi, config: HubspotConfig, ctx: ConnectorContext): AsyncGenerator<EraseOutcome> {
  const email = ctx.subject.email?.trim().toLowerCase()
  if (!email) {
    yield { status: 'not_found', stream: 'contacts' }
    return
  }
  const contacts = await findContacts(api, config, email, ctx.signal)
  if (contacts.length === 0) {
    if (config.blocklist_unknown) await gdprDelete(api, { objectId: email, idProperty: 'email' }, ctx.signal)
    yield { status: 'not_found', stream: 'contacts' }
    return
  }
  // Counted before the delete, which drops the associations.
  const kept = new Map<string, Set<string>>(KEPT_TYPES.map((type) => [type, new Set()]))
  for (const c of contacts) {
    for (const type of KEPT_TYPES) {
      for await (const a of associatedIds(api, config, c.id, type, ctx.signal)) kept.get(type)!.add(a.id)
    }
  }
  for (const c of contacts) {
    const primary = (c.properties.email ?? '').trim().toLowerCase()
    await gdprDelete(api, primary === email ? { objectId: email, idProperty: 'email' } : { objectId: c.id }, ctx.signal)
  }
  ctx.log.info({ count: contacts.length }, 'hubspot contacts GDPR-deleted')
  yield { status: 'erased', stream: 'contacts', count: contacts.length }
  for (const [stream, ids] of kept) {
    if (ids.size > 0) yield { status: 'retained', stream, count: ids.size, reason: KEPT_REASON }
  }
}
