import fp from 'fastify-plugin'
import { archiveKeyBytes } from '../../config.js'
import { createLinkSigner, type LinkSigner } from '../../archive/links.js'
import { createArchivesRepository } from '../../db/repositories/archives-repository.js'
import { createItemsRepository } from '../../db/repositories/items-repository.js'
import { createRequestsRepository } from '../../db/repositories/requests-repository.js'
import { createArchivesService, type ArchivesService } from '../../services/archives-service.js'

declare module 'fastify' {
  interface FastifyInstance {
    archivesService: ArchivesService
    /** Signs and checks the service's links for people (archive downloads, the privacy centre's status links) under LINK_SIGNING_KEY. */
    linkSigner: LinkSigner
  }
}

/** Archives: downloads, signed links, rebuilds. */
export default fp(async function archivesService (fastify) {
  const { config, dbh } = fastify
  const signer = createLinkSigner(config.LINK_SIGNING_KEY)
  if (signer.ephemeral && config.ROLE !== 'worker') {
    fastify.log.warn('LINK_SIGNING_KEY is not set: signed archive links use a key made for this process; they stop working when it restarts and are refused by other processes')
  }
  fastify.decorate('linkSigner', signer)
  fastify.decorate('archivesService', createArchivesService({
    dbh,
    storage: fastify.storage,
    archives: createArchivesRepository(dbh),
    items: createItemsRepository(dbh),
    requests: createRequestsRepository(dbh),
    signer,
    encryptionKey: config.ARCHIVE_ENCRYPTION_KEY ? archiveKeyBytes(config.ARCHIVE_ENCRYPTION_KEY) : null,
    linkTtlSeconds: config.ARCHIVE_LINK_TTL_SECONDS,
    boss: fastify.engine.boss,
    leaseMs: config.TASK_LEASE_SECONDS * 1000
  }))
}, { name: 'archives-service', dependencies: ['core', 'engine'] })
