import type { ConnectorDefinition } from './types.js'
import { memoryConnector } from './memory/index.js'
import { postgresConnector } from './postgres/index.js'

/** Every connector driver the service can run, listed explicitly (no autoloading). */
export const drivers: readonly ConnectorDefinition<any>[] = [memoryConnector, postgresConnector]
