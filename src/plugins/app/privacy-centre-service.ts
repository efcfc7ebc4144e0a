import fp from 'fastify-plugin'
import { readControllerFile } from '../../archive/controller.js'
import { SAMPLE_CONTROLLER_FILE } from '../../connectors/samples.js'
import { readPrivacyCentreFile, type PrivacyCentreConfig } from '../../privacy-centre/texts.js'
import { createPrivacyCentreService, type PrivacyCentreService } from '../../services/privacy-centre-service.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Null where the service cannot send e-mail (no SMTP_URL): the centre's pages then answer DSR_PRIVACY_CENTRE_NOT_CONFIGURED. */
    privacyCentre: PrivacyCentreService | null
    /** The centre's rights, law and words (PRIVACY_CENTRE_FILE or the shipped file), checked at start either way. */
    privacyCentreConfig: PrivacyCentreConfig
  }
}

/** The privacy centre (routes/privacy): people's own requests, confirmed by e-mail, followed through signed links. */
export default fp(async function privacyCentreService (fastify) {
  const { config, notifier } = fastify
  const centre = readPrivacyCentreFile(config.PRIVACY_CENTRE_FILE)
  fastify.decorate('privacyCentreConfig', centre)
  fastify.decorate('privacyCentre', notifier && createPrivacyCentreService({
    centre,
    requests: fastify.requestsService,
    verification: fastify.verificationService,
    archives: fastify.archivesService,
    signer: fastify.linkSigner,
    notifier,
    controller: readControllerFile(config.CONTROLLER_FILE ?? SAMPLE_CONTROLLER_FILE),
    registry: fastify.connectors,
    publicUrl: config.PUBLIC_URL ?? `http://localhost:${config.PORT}`,
    statusLinkDaysAfterDue: config.REQUEST_IDENTIFIERS_RETENTION_DAYS,
    log: fastify.log.child({ component: 'privacy-centre' })
  }))
}, { name: 'privacy-centre-service', dependencies: ['core', 'requests-service', 'verification-service', 'archives-service'] })
