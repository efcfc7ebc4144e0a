import fp from 'fastify-plugin'
import { createErasurePreviewService, type ErasurePreviewService } from '../../services/erasure-preview.js'
import { createHoldLookup } from '../../engine/holds.js'

declare module 'fastify' {
  interface FastifyInstance {
    erasurePreviewService: ErasurePreviewService
  }
}

export default fp(async function erasurePreviewService (fastify) {
  fastify.decorate('erasurePreviewService', createErasurePreviewService({
    dbh: fastify.dbh, registry: fastify.connectors, log: fastify.log, holds: createHoldLookup({ dbh: fastify.dbh, keyring: fastify.keyring })
  }))
}, { name: 'erasure-preview-service', dependencies: ['core'] })
