import type { ConnectorDefinition } from './types.js'
import { memoryConnector } from './memory/index.js'

/** Every connector driver the service can run, listed explicitly (no autoloading). */
export const drivers: readonly ConnectorDefinition<any>[] = [memoryConnector]
