import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { authErrorResponses, problem, IdParamsSchema, ref } from '../../../src/schemas/common.js'
import { DataSubjectRequestSchema } from '../../../src/schemas/requests.js'
import { ConfirmCodeSchema, VerificationChallengeSchema } from '../../../src/schemas/verification.js'
import { Errors } from '../../../src/errors.js'

const refusals = { ...authErrorResponses, 404: problem(), 409: problem() }

/**
 * Identity verification run by the service: a one-time code and link e-mailed to the subject. The
 * person follows the link (/v1/verification-links), or gives the code to the privacy team, whose
 * tool confirms it here.
 */
const verification: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.post('/:id/verification', {
    config: { scope: 'requests:write' },
    schema: {
      tags: ['requests'],
      operationId: 'startVerification',
      summary: "E-mail a one-time code and link to the subject's address; the request waits in verifying",
      description: 'Moves a received request to verifying (a verifying one stays) and sends a new code and link, valid for VERIFICATION_TTL_MINUTES; ' +
        'an open verification is replaced, a locked one restarted (audited). Where the regime stops the clock while the controller awaits identity ' +
        '(UK GDPR), the deadline is paused until the identity is confirmed, then moved by the whole days waited. ' +
        'DSR_NOTIFIER_NOT_CONFIGURED where no SMTP_URL is set.',
      params: IdParamsSchema,
      response: { 201: ref(VerificationChallengeSchema), ...refusals, 422: problem(), 502: problem() }
    }
  }, async (request, reply) => reply.status(201).send(await fastify.verificationService.start(request.params.id, request.principal!.name)))

  fastify.get('/:id/verification', {
    config: { scope: 'requests:read' },
    schema: {
      tags: ['requests'],
      operationId: 'getVerification',
      summary: 'The latest verification sent for the request: its status, expiry and attempts (never its code)',
      description: 'The latest identity verification sent for the request: its status, expiry and the attempts used. The code itself is never shown.',
      params: IdParamsSchema,
      response: { 200: ref(VerificationChallengeSchema), ...refusals }
    }
  }, async (request) => {
    const latest = await fastify.verificationService.latest(request.params.id)
    if (!latest) throw new Errors.VerificationNotStarted()
    return latest
  })

  fastify.post('/:id/verification/confirm', {
    config: { scope: 'requests:write' },
    schema: {
      tags: ['requests'],
      operationId: 'confirmVerificationCode',
      summary: 'Confirm the code the person received; fulfilment starts',
      description: 'A wrong code is counted (DSR_VERIFICATION_CODE_WRONG, with the attempts left); the VERIFICATION_MAX_ATTEMPTS-th locks the ' +
        'verification (DSR_VERIFICATION_LOCKED, 423), after which even the right code is refused until a new one is started. ' +
        'Past its expiry: DSR_VERIFICATION_EXPIRED (410).',
      params: IdParamsSchema,
      body: ref(ConfirmCodeSchema),
      response: { 200: ref(DataSubjectRequestSchema), ...refusals, 410: problem(), 422: problem(), 423: problem() }
    }
  }, async (request) => {
    const id = await fastify.verificationService.confirmCode(request.params.id, request.body.code, request.principal!.name)
    return fastify.requestsService.get(id)
  })
}

export default verification
