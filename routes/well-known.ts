import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { json, problem } from '../src/schemas/common.js'
import { JwksSchema } from '../src/schemas/receipts.js'

/** Public keys that verify erasure receipts (RFC 7517 key set). Open: they are public. */
const wellKnown: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/.well-known/jwks.json', {
    config: { public: 'jwks' },
    schema: {
      tags: ['receipts'],
      operationId: 'getReceiptKeys',
      summary: 'The public keys that verify erasure receipts (JWKS)',
      description: 'Ed25519 keys (`kty: OKP`, `alg: EdDSA`), each with the `kid` a receipt\'s JWS header names: the key ' +
        'signing receipts now first, then any earlier key whose receipts still verify. No API key needed.',
      response: {
        200: json(JwksSchema, { description: 'The key set', headers: { 'Cache-Control': { type: 'string', enum: ['public, max-age=300'], description: 'Cached for five minutes' } } }),
        500: problem()
      }
    }
  }, async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=300')
    return fastify.keyring.jwks()
  })
}

export default wellKnown
