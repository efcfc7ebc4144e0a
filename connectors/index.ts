import type { ConnectorDefinition } from './types.js'
import { hubspotConnector } from './hubspot/index.js'
import { mailchimpConnector } from './mailchimp/index.js'
import { manualConnector } from './manual/index.js'
import { memoryConnector } from './memory/index.js'
import { postgresConnector } from './postgres/index.js'
import { zendeskConnector } from './zendesk/index.js'
import { zoomConnector } from './zoom/index.js'

/** Every connector driver the service can run, listed explicitly (no autoloading). */
export const drivers: readonly ConnectorDefinition<any>[] = [
  memoryConnector,
  postgresConnector,
  mailchimpConnector,
  zoomConnector,
  hubspotConnector,
  zendeskConnector,
  manualConnector
]
