import fp from 'fastify-plugin'
import { createRequestsRepository } from '../../db/repositories/requests-repository.js'
import { createVerificationRepository } from '../../db/repositories/verification-repository.js'
import { createVerificationService, type VerificationService } from '../../services/verification-service.js'

declare module 'fastify' {
  interface FastifyInstance {
    verificationService: VerificationService
  }
}

/** Identity verification run by the service: code and link by e-mail (SMTP_URL), and the timeout job's rejections. */
export default fp(async function verificationService (fastify) {
  const { config, dbh } = fastify
  const { notifier } = fastify
  if (notifier && config.VERIFICATION_CODE_KEY === undefined) {
    fastify.log.warn('VERIFICATION_CODE_KEY is not set: verification codes are keyed for this process; codes sent before it restarts, or checked by another process, are refused')
  }
  fastify.decorate('verificationService', createVerificationService({
    dbh,
    repo: createVerificationRepository(dbh),
    requests: createRequestsRepository(dbh),
    fulfilment: fastify.fulfilmentService,
    notifier,
    codeKey: config.VERIFICATION_CODE_KEY,
    publicUrl: config.PUBLIC_URL ?? `http://localhost:${config.PORT}`,
    ttlMinutes: config.VERIFICATION_TTL_MINUTES,
    maxAttempts: config.VERIFICATION_MAX_ATTEMPTS,
    timeoutDays: config.VERIFICATION_TIMEOUT_DAYS,
    log: fastify.log.child({ component: 'verification' })
  }))
}, { name: 'verification-service', dependencies: ['core', 'requests-service'] })
