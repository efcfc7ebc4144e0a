import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import { Errors } from '../../errors.js'
import { hashKey, hasScope, type KeyRecord, type Scope } from '../../services/api-keys.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The scope a route requires; routes without one are open (health, docs). */
    scope?: Scope
  }
  interface FastifyRequest {
    principal: KeyRecord | null
  }
}

/**
 * API-key authentication. Keys arrive as `Authorization: Bearer <key>` or `X-API-Key`; only their
 * SHA-256 is compared, against keys held as hashes. No key → 401, a key without the route's scope → 403.
 */
export default fp(async function auth (fastify) {
  fastify.decorateRequest('principal', null)
  fastify.addHook('onRequest', async (request) => {
    const scope = request.routeOptions.config.scope
    if (!scope) return
    const key = presentedKey(request)
    const principal = key ? fastify.apiKeys.get(hashKey(key)) : undefined
    if (!principal) throw new Errors.Unauthenticated()
    if (!hasScope(principal, scope)) throw new Errors.Forbidden(scope)
    request.principal = principal
  })
}, { name: 'auth', dependencies: ['services'] })

function presentedKey (request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header?.startsWith('Bearer ')) return header.slice(7).trim() || undefined
  const apiKey = request.headers['x-api-key']
  return typeof apiKey === 'string' && apiKey.length > 0 ? apiKey : undefined
}
