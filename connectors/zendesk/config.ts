import { Type, type Static } from 'typebox'
import { ConnectorError, ConnectorErrorCodes, type StreamInfo } from '../types.js'

export const ZendeskConfigSchema = Type.Object({
  /** `acme` for https://acme.zendesk.com; or give base_url. */
  subdomain: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' })),
  base_url: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$' })),
  /** The agent's e-mail for API-token auth (Basic `email/token:api_token`). */
  email: Type.Optional(Type.String({ minLength: 3 })),
  /** Secret: `{ "env": "ZENDESK_API_TOKEN" }`. */
  api_token: Type.Optional(Type.String({ minLength: 1 })),
  /** Secret: `{ "env": "ZENDESK_OAUTH_TOKEN" }`; used instead of email + api_token when given. */
  oauth_token: Type.Optional(Type.String({ minLength: 1 })),
  /**
   * Account-wide requests per minute. Zendesk's limit depends on the plan (Team 200, Growth and
   * Professional 400, Enterprise 700, High Volume add-on 2,500: developer.zendesk.com, "Rate limits").
   * The default is the lowest plan's, which is safe on every account.
   */
  rate_limit: Type.Object({
    per_minute: Type.Integer({ minimum: 1, maximum: 2500, default: 200 })
  }, { additionalProperties: false, default: { per_minute: 200 } }),
  /** Permanent user deletions: "700 users every 10 minutes" (Delete Deleted User, Support API). */
  deleted_users_per_10_minutes: Type.Integer({ minimum: 1, maximum: 700, default: 700 }),
  /** Page size for every list (Zendesk's maximum is 100). */
  page_size: Type.Integer({ minimum: 1, maximum: 100, default: 100 })
}, { additionalProperties: false })
export type ZendeskConfig = Static<typeof ZendeskConfigSchema>

export const ZENDESK_STREAMS: readonly StreamInfo[] = [
  { name: 'users', description: 'The person\'s Zendesk user profile', categories: ['identity', 'contact'] },
  { name: 'identities', description: 'E-mail addresses, phone numbers and social accounts linked to the user', categories: ['contact'] },
  { name: 'tickets', description: 'Support tickets the person requested', categories: ['support'] },
  { name: 'comments', description: 'Comments on those tickets, with their channel metadata', categories: ['support', 'communications'] },
  { name: 'attachments', description: 'Files attached to those comments', categories: ['support', 'files'] }
]

/** The API origin: base_url, or https://<subdomain>.zendesk.com. */
export function zendeskBaseUrl (config: ZendeskConfig): string {
  if (config.base_url) return config.base_url.replace(/\/+$/, '')
  if (config.subdomain) return `https://${config.subdomain}.zendesk.com`
  throw new ConnectorError(ConnectorErrorCodes.Config, 'zendesk: give subdomain or base_url', { retryable: false })
}

/** The Authorization header: Bearer for OAuth, else Basic `email/token:api_token`. */
export function zendeskAuthorization (config: ZendeskConfig): string {
  if (config.oauth_token) return `Bearer ${config.oauth_token}`
  if (config.email && config.api_token) return `Basic ${Buffer.from(`${config.email}/token:${config.api_token}`).toString('base64')}`
  throw new ConnectorError(ConnectorErrorCodes.Config, 'zendesk: give oauth_token, or email and api_token', { retryable: false })
}
