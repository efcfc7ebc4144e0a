import { defineConnector, type Capability, type Connector, type ConnectorContext, type ConnectorDeps, type HealthResult } from '../types.js'
import { createHubspotApi, type HubspotApi, type HubspotOptions } from './client.js'
import { collectHubspot } from './collect.js'
import { HUBSPOT_STREAMS, HubspotConfigSchema, type HubspotConfig } from './config.js'
import { eraseHubspot } from './erase.js'
import { rectifyHubspot } from './rectify.js'

export { HubspotConfigSchema, HUBSPOT_STREAMS, type HubspotConfig } from './config.js'
export { hubspotRetryAfter, DEFAULT_BACKOFF, type HubspotOptions } from './client.js'
export { HUBSPOT_RECTIFY_FIELDS, HubspotRectifyErrorCodes, planHubspotRectify, type HubspotRectifyOutcome } from './rectify.js'

const HEALTH_TIMEOUT_MS = 5000

/**
 * HubSpot CRM (v3 objects, v4 associations). Finds the person's contacts by primary or additional
 * e-mail, exports them with property history and their associated companies, deals, tickets and
 * activity, erases with HubSpot's GDPR delete, and rectifies contact properties (PATCH) from a
 * rectification request's changes, mapped by `HUBSPOT_RECTIFY_FIELDS` (rectify.ts: the field table,
 * the e-mail rules and the error codes). Rate limits (account burst and search) are kept client-side.
 */
export const hubspotConnector = defineConnector({
  driver: 'hubspot',
  displayName: 'HubSpot CRM',
  version: 1,
  capabilities: ['collect', 'erase', 'rectify'] satisfies Capability[],
  // Search is eventually consistent ("a few seconds", HubSpot's search guide): a contact just
  // GDPR-deleted may still be found for a moment, so a check that finds one waits and searches again.
  erasureCheck: { searchable: true, settleMs: 5000 },
  streams: HUBSPOT_STREAMS,
  configSchema: HubspotConfigSchema,
  secretFields: ['token'],
  create: (config: HubspotConfig, deps: ConnectorDeps) => createHubspotConnector(config, deps)
})

export function createHubspotConnector (config: HubspotConfig, deps: Pick<ConnectorDeps, 'fetch' | 'log'>, opts: HubspotOptions = {}): Connector {
  const api = createHubspotApi(config, deps, opts)
  return {
    health: ({ signal }) => health(api, signal),
    collect: (ctx) => collectHubspot(api, config, ctx),
    erase: (ctx) => eraseHubspot(api, config, ctx),
    rectify: (ctx: ConnectorContext & { changes: Record<string, string> }) => rectifyHubspot(api, config, ctx)
  }
}

async function health (api: HubspotApi, callerSignal: AbortSignal): Promise<HealthResult> {
  const signal = AbortSignal.any([callerSignal, AbortSignal.timeout(HEALTH_TIMEOUT_MS)])
  const started = performance.now()
  try {
    await api('GET', '/crm/v3/objects/contacts', '/crm/v3/objects/contacts', { signal, query: { limit: 1, archived: 'false' } })
    return { status: 'ok', latencyMs: Math.round(performance.now() - started) }
  } catch (err) {
    const e = err as { message?: string, retryable?: boolean }
    return { status: 'down', message: e.message ?? 'hubspot health check failed', retryable: e.retryable ?? true }
  }
}
