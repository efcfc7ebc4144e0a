import fp from 'fastify-plugin'
import type { FastifyRequest, RouteOptions } from 'fastify'
import { Errors } from '../../errors.js'
import { hashKey, hasScope, type KeyRecord, type Scope } from '../../services/api-keys.js'
import { apiKeySecurity } from '../../schemas/common.js'
import { runAsTenant } from '../../db/tenant-scope.js'
import { createRequestsRepository } from '../../db/repositories/requests-repository.js'

/**
 * The only reasons a route may be reached without an API key. A route names one of them
 * (`config.public`), or it needs a scope (`config.scope`); a route with neither stops the service
 * at start.
 */
export const PUBLIC_REASONS = {
  health: 'liveness and readiness probes',
  docs: 'the OpenAPI document and Swagger UI',
  metrics: 'the Prometheus scrape, behind its own METRICS_TOKEN when that is set',
  jwks: 'the public keys that receipts are verified with',
  signed_link: "a person's archive download, authorised by the link's signature",
  verification_link: 'a person confirming their identity, authorised by the one-time token e-mailed to them',
  opendsr_discovery: 'OpenDSR discovery and the certificate its signed answers and callbacks are verified with',
  privacy_centre: "the privacy centre's pages for people: limited per client and per e-mail address; a request made there is confirmed by the one-time link e-mailed to the address, then followed through a signed status link",
  console: "the operator console's pages: authorised by its signed-in session (a key with the console scope) and each page's API scope, checked in routes/console"
} as const
export type PublicReason = keyof typeof PUBLIC_REASONS

/** Routes of one request, by its id. */
const REQUEST_ROUTES = '/v1/requests/:id'
/** Those a tenant key reaches for a request with a part of its account that is not all its own (its part, and its decision on it). */
const PART_ROUTES = ['/accounts', '/controller-decision']
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Routes of plugins that cannot be given a config (Swagger UI's), public by their prefix. */
const PUBLIC_PREFIXES: ReadonlyArray<readonly [string, PublicReason]> = [['/docs', 'docs']]

/** Who may call a route: a scope, or a reason it is public. */
export type RouteAccess = { method: string, url: string } & ({ scope: Scope, public?: undefined } | { scope?: undefined, public: PublicReason })

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The scope a route requires. Every route needs one unless it is public by name (`public`). */
    scope?: Scope
    /** Why a route needs no API key: one of PUBLIC_REASONS. */
    public?: PublicReason
  }
  interface FastifyRequest {
    principal: KeyRecord | null
  }
  interface FastifyInstance {
    /** Every route with the scope it needs or the reason it is public, as registered. */
    routeAccess: readonly RouteAccess[]
  }
}

/**
 * API-key authentication, denying by default. Keys arrive as `Authorization: Bearer <key>` or
 * `X-API-Key`; only their SHA-256 is compared, against keys held as hashes. No key → 401, a key
 * without the route's scope → 403. A route's OpenAPI `security` is derived here from its scope, so
 * the document and the check cannot disagree.
 */
export default fp(async function auth (fastify) {
  const routes: RouteAccess[] = []
  fastify.decorate('routeAccess', routes)
  fastify.decorateRequest('principal', null)

  fastify.addHook('onRoute', (route: RouteOptions) => {
    const config = (route.config ??= {}) as { scope?: Scope, public?: PublicReason }
    const method = [route.method].flat().join(',')
    const open = config.public ?? PUBLIC_PREFIXES.find(([prefix]) => route.url.startsWith(prefix))?.[1]
    if (open !== undefined && !Object.hasOwn(PUBLIC_REASONS, open)) {
      throw new Error(`${method} ${route.url}: config.public must be one of ${Object.keys(PUBLIC_REASONS).join(', ')}, not ${open}`)
    }
    if (config.scope && open) throw new Error(`${method} ${route.url}: a route has a scope or is public, not both`)
    if (!config.scope && !open) {
      throw new Error(`${method} ${route.url} has no scope: give it config.scope, or config.public naming why it is open (${Object.keys(PUBLIC_REASONS).join(', ')})`)
    }
    if (config.scope) {
      route.schema = { ...route.schema, security: apiKeySecurity }
      routes.push({ method, url: route.url, scope: config.scope })
    } else {
      config.public = open!
      if (open === 'signed_link') route.schema = { ...route.schema, security: [{ signedLink: [] }] }
      if (open === 'verification_link') route.schema = { ...route.schema, security: [{ verificationLink: [] }] }
      // The scrape token is asked for only when METRICS_TOKEN is set: either requirement ({} is none) may be met.
      if (open === 'metrics') route.schema = { ...route.schema, security: [{}, { metricsToken: [] }] }
      // Open to anyone: said explicitly, so the document does not read as if security were forgotten.
      if (open === 'health' || open === 'docs' || open === 'jwks' || open === 'opendsr_discovery') route.schema = { ...route.schema, security: [] }
      routes.push({ method, url: route.url, public: open! })
    }
  })

  fastify.addHook('onRequest', async (request) => {
    const { scope, public: open } = request.routeOptions.config
    if (open || request.is404) return
    // Unreachable for registered routes (onRoute refuses a route with neither), and refused if it were not.
    if (!scope) throw new Errors.Unauthenticated()
    const key = presentedKey(request)
    const principal = key ? fastify.apiKeys.get(hashKey(key)) : undefined
    if (!principal) throw new Errors.Unauthenticated()
    if (!hasScope(principal, scope)) throw new Errors.Forbidden(scope)
    request.principal = principal
  })

  // A tenant key reaches a request of another account as if it did not exist: checked before the
  // input is (so a body that would not validate answers 404 too), and again by the repositories.
  const requests = createRequestsRepository(fastify.dbh)
  fastify.addHook('preValidation', async (request) => {
    const account = request.principal?.account
    const url = request.routeOptions.url ?? ''
    if (account === undefined || !url.startsWith(REQUEST_ROUTES)) return
    const id = (request.params as { id?: unknown }).id
    const found = typeof id === 'string' && UUID.test(id) &&
      await runAsTenant(account, () => requests.findById(id, undefined, { part: PART_ROUTES.includes(url.slice(REQUEST_ROUTES.length)) }))
    if (!found) throw new Errors.RequestNotFound(String(id))
  })

  // A tenant key's call runs in its account's scope: the repositories then see that account's requests only (db/tenant-scope.ts).
  fastify.addHook('preHandler', (request, _reply, done) => {
    const account = request.principal?.account
    if (account === undefined) done()
    else runAsTenant(account, done)
  })
}, { name: 'auth', dependencies: ['core'] })

function presentedKey (request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header?.startsWith('Bearer ')) return header.slice(7).trim() || undefined
  const apiKey = request.headers['x-api-key']
  return typeof apiKey === 'string' && apiKey.length > 0 ? apiKey : undefined
}
