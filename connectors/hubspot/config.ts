import { Type, type Static } from 'typebox'
import type { StreamInfo } from '../types.js'

export const HubspotConfigSchema = Type.Object({
  base_url: Type.String({ pattern: '^https?://[^\\s]+$', default: 'https://api.hubapi.com' }),
  /** Secret: `{ "env": "HUBSPOT_TOKEN" }`. A private-app or OAuth access token, sent as Bearer. */
  token: Type.String({ minLength: 1 }),
  /**
   * The account's burst limit for private apps, per rolling 10 s (HubSpot docs: 100 Free/Starter,
   * 150 Professional/Enterprise, 200 with the API add-on; 190 leaves headroom under 200).
   */
  rate_limit: Type.Object({
    per_10s: Type.Union([Type.Literal(100), Type.Literal(150), Type.Literal(190)], { default: 100 })
  }, { additionalProperties: false, default: { per_10s: 100 } }),
  /** The CRM search API's own limit: 4 requests per second per token (HubSpot changelog). */
  search_per_second: Type.Integer({ minimum: 1, maximum: 4, default: 4 }),
  /** Page size for contact search (HubSpot's maximum is 200). */
  page_size: Type.Integer({ minimum: 1, maximum: 200, default: 100 }),
  /** Page size for v4 association lists (HubSpot's maximum is 500). */
  association_page_size: Type.Integer({ minimum: 1, maximum: 500, default: 500 }),
  /** Contact properties to export with their history; all of the account's properties when absent. */
  contact_properties: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
  /**
   * When erasing someone HubSpot does not hold, still send the GDPR delete so HubSpot blocklists the
   * address (it then refuses to re-create a contact with it). Off by default: a blocklisted address
   * cannot sign up again.
   */
  blocklist_unknown: Type.Boolean({ default: false })
}, { additionalProperties: false })
export type HubspotConfig = Static<typeof HubspotConfigSchema>

/** Objects associated with a contact, each read through v4 associations and batch/read. */
export const ASSOCIATED_TYPES = ['companies', 'deals', 'tickets', 'notes', 'emails', 'calls', 'meetings'] as const
export type AssociatedType = typeof ASSOCIATED_TYPES[number]

/** Why HubSpot's GDPR delete leaves the associated companies, deals and tickets. */
export const KEPT_REASON = 'HubSpot\'s GDPR delete removes the contact and the activity logged on it; associated companies, ' +
  'deals and tickets are separate business records that stay, no longer linked to the person: review them in HubSpot if they name the person'

export const HUBSPOT_STREAMS: readonly StreamInfo[] = [
  { name: 'contacts', description: 'Contact records with every property and its change history', categories: ['identity', 'contact', 'commercial'] },
  { name: 'companies', description: 'Companies the person is associated with', categories: ['professional'], onErase: { action: 'retain', reason: KEPT_REASON } },
  { name: 'deals', description: 'Deals the person is associated with', categories: ['commercial', 'financial'], onErase: { action: 'retain', reason: KEPT_REASON } },
  { name: 'tickets', description: 'Support tickets the person is associated with', categories: ['support'], onErase: { action: 'retain', reason: KEPT_REASON } },
  { name: 'notes', description: 'Notes logged on the person', categories: ['communications'] },
  { name: 'emails', description: 'E-mails logged on the person', categories: ['communications'] },
  { name: 'calls', description: 'Calls logged on the person', categories: ['communications'] },
  { name: 'meetings', description: 'Meetings logged on the person', categories: ['communications'] }
]

/** Properties read for each associated object type (a small, useful set: HubSpot returns only these). */
export const ASSOCIATED_PROPERTIES: Record<AssociatedType, readonly string[]> = {
  companies: ['name', 'domain', 'phone', 'city', 'country', 'createdate', 'hs_lastmodifieddate'],
  deals: ['dealname', 'amount', 'dealstage', 'pipeline', 'closedate', 'createdate', 'hs_lastmodifieddate'],
  tickets: ['subject', 'content', 'hs_pipeline_stage', 'hs_ticket_priority', 'createdate', 'hs_lastmodifieddate'],
  notes: ['hs_note_body', 'hs_timestamp', 'hs_lastmodifieddate'],
  emails: ['hs_email_subject', 'hs_email_text', 'hs_email_direction', 'hs_email_status', 'hs_timestamp'],
  calls: ['hs_call_title', 'hs_call_body', 'hs_call_direction', 'hs_call_duration', 'hs_call_status', 'hs_timestamp'],
  meetings: ['hs_meeting_title', 'hs_meeting_body', 'hs_meeting_start_time', 'hs_meeting_end_time', 'hs_meeting_outcome', 'hs_timestamp']
}
