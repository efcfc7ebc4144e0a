import { defineConnector, type Capability, type Connector, type ConnectorDeps, type HealthResult } from '../types.js'
import { createZendeskApi, type ZendeskApi, type ZendeskOptions } from './client.js'
import { collectZendesk } from './collect.js'
import { ZENDESK_STREAMS, ZendeskConfigSchema, zendeskAuthorization, zendeskBaseUrl, type ZendeskConfig } from './config.js'
import { eraseZendesk } from './erase.js'

export { ZendeskConfigSchema, ZENDESK_STREAMS, type ZendeskConfig } from './config.js'
export type { ZendeskOptions } from './client.js'

const HEALTH_TIMEOUT_MS = 5000

/**
 * Zendesk Support. Finds the person's user by exact e-mail, collects the profile, identities, the
 * tickets they requested with comments and attachments (streamed), and erases tickets, then the
 * user (soft, then permanent). Keeps the account's per-minute limit and the permanent-deletion limit.
 */
export const zendeskConnector = defineConnector({
  driver: 'zendesk',
  displayName: 'Zendesk Support',
  version: 1,
  capabilities: ['collect', 'erase'] satisfies Capability[],
  // Users are found through users/search, which serves from a search index that can lag a write by
  // a few seconds: a check that still finds the user waits and searches again.
  erasureCheck: { searchable: true, settleMs: 5000 },
  streams: ZENDESK_STREAMS,
  configSchema: ZendeskConfigSchema,
  secretFields: ['api_token', 'oauth_token'],
  create (config: ZendeskConfig, deps: ConnectorDeps) {
    zendeskBaseUrl(config)
    zendeskAuthorization(config)
    return createZendeskConnector(config, deps)
  }
})

export function createZendeskConnector (config: ZendeskConfig, deps: Pick<ConnectorDeps, 'fetch' | 'log'>, opts: ZendeskOptions = {}): Connector {
  const api = createZendeskApi(config, deps, opts)
  return {
    health: ({ signal }) => health(api, signal),
    collect: (ctx) => collectZendesk(api, config, ctx),
    erase: (ctx) => eraseZendesk(api, config, ctx)
  }
}

async function health (api: ZendeskApi, callerSignal: AbortSignal): Promise<HealthResult> {
  const signal = AbortSignal.any([callerSignal, AbortSignal.timeout(HEALTH_TIMEOUT_MS)])
  const started = performance.now()
  try {
    await api.call('GET', '/api/v2/users/me', '/api/v2/users/me', { signal })
    return { status: 'ok', latencyMs: Math.round(performance.now() - started) }
  } catch (err) {
    const e = err as { message?: string, retryable?: boolean }
    return { status: 'down', message: e.message ?? 'zendesk health check failed', retryable: e.retryable ?? true }
  }
}
