import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { authErrorResponses, problem, IdParamsSchema } from '../../../src/schemas/common.js'
import { ErasureReceiptResponseSchema } from '../../../src/schemas/receipts.js'

/** The signed erasure receipt of a closed erasure request. */
const receipt: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/:id/receipt', {
    config: { scope: 'requests:read' },
    schema: {
      tags: ['requests'],
      operationId: 'getErasureReceipt',
      summary: 'The signed receipt of an erasure: what each system did, until when its backups hold the data, what was not in scope',
      description: 'For an erasure request that is `completed` or `partially_completed`. Per system: the action, its status, ' +
        'when it was first attempted and when it finished, the attempts, the outcome per stream (records erased, not found, ' +
        'deferred with the system\'s reference, retained with the reason) and `backups`: until when that system\'s backups can ' +
        'still hold what was erased (`BACKUP_RETENTION_DAYS` or the connector\'s `backup_retention_days` after it finished), ' +
        'during which it is kept beyond use and erased again if a backup is restored. `not_in_scope` lists the configured ' +
        'systems the request did not reach, and why.\n\n' +
        'The person\'s identifiers appear only as HMAC-SHA256 under a service secret (`subject.input` says over what): ' +
        'whoever holds the secret and the person\'s e-mail can check the receipt is theirs; the receipt alone discloses nothing.\n\n' +
        '`jws` is the receipt as a compact JWS signed with EdDSA (Ed25519); verify it with the key named by `kid` in ' +
        '`/.well-known/jwks.json`. The receipt is issued once per closing of the request and stored: asking again returns ' +
        'the same bytes. A request that closes again after a retried task gets a new receipt.\n\n' +
        '409 `DSR_RECEIPT_NOT_AVAILABLE`: not an erasure request, or not (or no longer) completed or partially completed.',
      params: IdParamsSchema,
      response: {
        200: ErasureReceiptResponseSchema,
        ...authErrorResponses,
        404: problem(),
        409: problem()
      }
    }
  }, async (request) => fastify.receiptsService.forRequest(request.params.id))
}

export default receipt
