import { Type } from 'typebox'
import { defineConnector } from '../types.js'

/**
 * A system no connector reaches (no API, or none worth automating): every action a request needs
 * there becomes a task for a person, with the instructions of the entry's `manual` block (or
 * general ones). It declares no capability and holds no stream the service could read.
 */
export const manualConnector = defineConnector({
  driver: 'manual',
  displayName: 'Handled by a person',
  version: 1,
  capabilities: [],
  erasureCheck: { searchable: false, reason: 'no connector reaches this system: a person erases there, and no search can check it' },
  streams: [],
  configSchema: Type.Object({}, { additionalProperties: false }),
  secretFields: [],
  create: () => ({
    // Nothing to reach: a person is always there to do the work.
    health: async () => ({ status: 'ok' as const, latencyMs: 0 })
  })
})
