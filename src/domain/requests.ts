/**
 * The vocabulary of a data subject request, shared by the database schema, the API schemas and the
 * services. `as const` tuples rather than enums, so the values are plain data everywhere.
 */
export const REQUEST_TYPES = [
  'access', 'portability', 'erasure', 'rectification', 'restriction', 'objection',
  'consent_withdrawal', 'marketing_opt_out'
] as const
export type RequestType = typeof REQUEST_TYPES[number]

export const CHANNELS = ['api', 'web_form', 'email', 'phone', 'post', 'in_person', 'chat', 'other'] as const
export type Channel = typeof CHANNELS[number]

export const REQUESTER_KINDS = ['subject', 'authorised_agent', 'parent_guardian', 'legal_representative'] as const
export type RequesterKind = typeof REQUESTER_KINDS[number]
