import type { CollectedItem, ConnectorContext } from '../types.js'
import type { HubspotApi } from './client.js'
import { ASSOCIATED_PROPERTIES, ASSOCIATED_TYPES, type HubspotConfig } from './config.js'

export interface HubspotObject {
  id: string
  properties: Record<string, string | null>
  propertiesWithHistory?: Record<string, unknown[]>
  createdAt?: string
  updatedAt?: string
  archived?: boolean
}

interface SearchPage { results?: HubspotObject[], paging?: { next?: { after?: string } } }
interface AssociationPage { results?: Array<{ toObjectId: string | number, associationTypes?: unknown[] }>, paging?: { next?: { after?: string } } }

const BATCH_READ_MAX = 100
/** HubSpot reads at most 50 objects per batch when property history is asked for. */
const BATCH_READ_HISTORY_MAX = 50

/**
 * Every contact whose primary e-mail is the subject's, or whose additional e-mails contain it
 * (two filter groups: OR), following `paging.next.after` to the last page.
 */
export async function * searchContacts (api: HubspotApi, config: HubspotConfig, email: string, signal: AbortSignal): AsyncGenerator<HubspotObject> {
  let after: string | undefined
  const seen = new Set<string>()
  do {
    const res = await api('POST', '/crm/v3/objects/contacts/search', '/crm/v3/objects/contacts/search', {
      signal,
      json: {
        filterGroups: [
          { filters: [{ propertyName: 'email', operator: 'EQ', value: email }] },
          { filters: [{ propertyName: 'hs_additional_emails', operator: 'CONTAINS_TOKEN', value: email }] }
        ],
        properties: ['email', 'hs_additional_emails'],
        sorts: [{ propertyName: 'hs_object_id', direction: 'ASCENDING' }],
        limit: config.page_size,
        ...(after !== undefined ? { after } : {})
      }
    })
    const page = res.body as SearchPage
    for (const c of page.results ?? []) {
      if (seen.has(c.id)) continue
      seen.add(c.id)
      yield c
    }
    after = page.paging?.next?.after
  } while (after !== undefined)
}

/** Every contact property name in the account (for a complete export), unless the settings list them. */
async function contactProperties (api: HubspotApi, config: HubspotConfig, signal: AbortSignal): Promise<string[]> {
  if (config.contact_properties) return config.contact_properties
  const res = await api('GET', '/crm/v3/properties/contacts', '/crm/v3/properties/contacts', { signal, query: { archived: 'false' } })
  return ((res.body as { results?: Array<{ name?: unknown }> }).results ?? [])
    .map((p) => p.name).filter((n): n is string => typeof n === 'string')
}

async function batchRead (api: HubspotApi, type: string, ids: string[], properties: readonly string[], withHistory: boolean, signal: AbortSignal): Promise<HubspotObject[]> {
  const res = await api('POST', `/crm/v3/objects/${type}/batch/read`, `/crm/v3/objects/${type}/batch/read`, {
    signal,
    query: { archived: 'false' },
    json: { inputs: ids.map((id) => ({ id })), properties, ...(withHistory ? { propertiesWithHistory: properties } : {}) }
  })
  return (res.body as { results?: HubspotObject[] }).results ?? []
}

export async function * associatedIds (api: HubspotApi, config: HubspotConfig, contactId: string, type: string, signal: AbortSignal): AsyncGenerator<{ id: string, associationTypes: unknown[] }> {
  let after: string | undefined
  do {
    const res = await api('GET', `/crm/v4/objects/contacts/{id}/associations/${type}`,
      `/crm/v4/objects/contacts/${encodeURIComponent(contactId)}/associations/${type}`,
      { signal, query: { limit: config.association_page_size, after } })
    const page = res.body as AssociationPage
    for (const r of page.results ?? []) yield { id: String(r.toObjectId), associationTypes: r.associationTypes ?? [] }
    after = page.paging?.next?.after
  } while (after !== undefined)
}

function chunks<T> (items: T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

/**
 * Collects the subject's contacts (all properties, with history) and the objects associated with
 * them. Contacts are read in batches as the search pages arrive; associated objects once each.
 */
export async function * collectHubspot (api: HubspotApi, config: HubspotConfig, ctx: ConnectorContext): AsyncGenerator<CollectedItem> {
  const email = ctx.subject.email?.trim().toLowerCase()
  if (!email) return
  const { signal } = ctx
  const ids: string[] = []
  for await (const c of searchContacts(api, config, email, signal)) ids.push(c.id)
  if (ids.length === 0) return
  const properties = await contactProperties(api, config, signal)
  for (const batch of chunks(ids, BATCH_READ_HISTORY_MAX)) {
    for (const c of await batchRead(api, 'contacts', batch, properties, true, signal)) {
      yield { type: 'record', stream: 'contacts', key: `contact:${c.id}`, data: { ...c } }
    }
  }
  const yielded = new Set<string>()
  for (const type of ASSOCIATED_TYPES) {
    const links = new Map<string, unknown[]>()
    for (const contactId of ids) {
      for await (const a of associatedIds(api, config, contactId, type, signal)) {
        if (!yielded.has(`${type}:${a.id}`)) links.set(a.id, [...(links.get(a.id) ?? []), ...a.associationTypes])
      }
    }
    for (const batch of chunks([...links.keys()], BATCH_READ_MAX)) {
      for (const o of await batchRead(api, type, batch, ASSOCIATED_PROPERTIES[type], false, signal)) {
        const key = `${type}:${o.id}`
        if (yielded.has(key)) continue
        yielded.add(key)
        yield { type: 'record', stream: type, key, data: { ...o, associationTypes: links.get(o.id) ?? [] } }
      }
    }
  }
}
