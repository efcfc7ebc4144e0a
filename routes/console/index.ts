import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify'
import formbody from '@fastify/formbody'
import secureSession from '@fastify/secure-session'
import csrf from '@fastify/csrf-protection'
import { Errors } from '../../src/errors.js'
import { toApiError, unavailableError } from '../../src/plugins/external/errors.js'
import { serverPages } from '../../src/plugins/external/server-pages.js'
import { hasScope, type KeyRecord, type Scope } from '../../src/services/api-keys.js'
import { shippedPath } from '../../src/shipped-path.js'
import { CONSOLE_SESSION_HOURS } from '../../src/plugins/app/console-service.js'
import session from './session.js'
import queue from './queue.js'
import request from './request.js'
import actions from './actions.js'
import connectors from './connectors.js'
import audit from './audit.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The API scope a console page or action needs, as its API route does; null for the pages open before sign-in. */
    consoleScope?: Scope | null
  }
  interface FastifyRequest {
    /** The API key the console session was signed in with. */
    operator: KeyRecord | null
  }
}

declare module '@fastify/secure-session' {
  interface SessionData {
    /** The session's id, named on the audit trail when it is signed in and out. */
    sid: string
    /** The SHA-256 of the API key it was signed in with: the key's scopes are looked up on every request. */
    key: string
    /** When the session was last used (epoch ms), for the idle timeout. */
    seen: number
  }
}

const VIEWS = shippedPath(import.meta.url, '../../views', 'console/layout.eta')
const MAX_SESSION_SECONDS = CONSOLE_SESSION_HOURS * 3600
const SECURE = { auto: 'auto', true: true, false: false } as const

/**
 * The operator console (/console): server-rendered pages over the same services, scopes and audit
 * events as the API. An API key with the `console` scope is exchanged for an encrypted session cookie
 * (HttpOnly, SameSite=Strict, Secure over HTTPS), every form carries an anti-forgery token, and the pages
 * run no script (CSP without 'unsafe-inline'). Hidden from the OpenAPI document: it is not the API.
 */
export default async function consoleRoutes (fastify: FastifyInstance): Promise<void> {
  const key = fastify.consoleSessionKey
  if (!key) {
    fastify.all('/console', { config: { public: 'console' }, schema: { hide: true } }, async () => { throw new Errors.ConsoleNotConfigured() })
    fastify.all('/console/*', { config: { public: 'console' }, schema: { hide: true } }, async () => { throw new Errors.ConsoleNotConfigured() })
    return
  }
  const idleMs = fastify.config.CONSOLE_IDLE_MINUTES * 60_000
  await fastify.register(formbody, { bodyLimit: 64 * 1024 })
  await fastify.register(secureSession, {
    key,
    cookieName: 'dsr_console',
    expiry: MAX_SESSION_SECONDS,
    cookie: { path: '/console', httpOnly: true, sameSite: 'strict', secure: SECURE[fastify.config.CONSOLE_COOKIE_SECURE], maxAge: MAX_SESSION_SECONDS }
  })
  await fastify.register(csrf, { sessionPlugin: '@fastify/secure-session' })
  await serverPages(fastify, { views: VIEWS, scripts: true, referrerPolicy: 'same-origin' })
  fastify.decorateRequest('operator', null)

  // A form's empty choice ("any status") is no filter, not an invalid value.
  fastify.addHook('preValidation', async (request) => {
    const query = request.query as Record<string, unknown> | undefined
    if (query) for (const [k, v] of Object.entries(query)) if (v === '' || (Array.isArray(v) && v.every((x) => x === ''))) delete query[k]
    const body = request.body as Record<string, unknown> | undefined
    if (body && typeof body === 'object') for (const [k, v] of Object.entries(body)) if (v === '') delete body[k]
  })
  // Who is signed in, then whether the page's scope allows it; then, for a form, its anti-forgery token.
  fastify.addHook('preValidation', async (request, reply) => {
    const scope = request.routeOptions.config.consoleScope
    if (scope === undefined && !request.is404) throw new Error(`${request.routeOptions.url}: a console route needs config.consoleScope`)
    if (scope) {
      const operator = await signedIn(fastify, request, idleMs)
      if (!operator) {
        if (request.method === 'GET') return reply.redirect('/console/sign-in', 303)
        throw new Errors.ConsoleSessionRequired()
      }
      if (!hasScope(operator, scope)) throw new Errors.Forbidden(scope)
      request.operator = operator
    }
    if (request.method === 'POST') {
      await new Promise<void>((resolve, reject) => {
        fastify.csrfProtection(request, reply, (err?: Error) => { if (err) reject(err); else resolve() })
      })
    }
  })

  // Errors as a page a person can read and go back from, with the same status and code as the API's.
  fastify.setErrorHandler((err: FastifyError, request, reply) => {
    // The database or the object store away: nothing is wrong with the request, as the API says it (503, Retry-After).
    const away = unavailableError(err)
    const e = away ?? toApiError(err)
    if (away) {
      reply.header('retry-after', String(away.retryAfter))
      request.log.warn({ code: e.code }, 'console request: database or object store unavailable')
    } else if (e.statusCode >= 500) request.log.error({ err }, 'console request failed')
    else request.log.info({ code: e.code, statusCode: e.statusCode }, 'console request refused')
    // A signed-in operator keeps the sign-out button, which needs this session's token.
    const csrf = request.operator ? reply.generateCsrf() : ''
    return reply.status(e.statusCode).type('text/html; charset=utf-8')
      .view('console/error', { title: 'Not done', error: e, operator: request.operator, csrf, back: backTo(request) })
  })

  await fastify.register(session)
  await fastify.register(queue)
  await fastify.register(request)
  await fastify.register(actions)
  await fastify.register(connectors)
  await fastify.register(audit)
}

/** The key behind the request's session, or null (none, idle too long, signed out, key gone); a live one is touched. */
async function signedIn (fastify: FastifyInstance, request: FastifyRequest, idleMs: number): Promise<KeyRecord | null> {
  const s = request.session
  const sid = s.get('sid')
  const key = s.get('key')
  const seen = s.get('seen')
  if (!sid || !key || !seen) return null
  const now = Date.now()
  if (now - seen > idleMs) {
    s.delete()
    return null
  }
  const operator = await fastify.consoleService.principalOf(sid, key)
  if (!operator) {
    s.delete()
    return null
  }
  s.set('seen', now)
  return operator
}

/** Where "back" leads from an error: the page the form was on, or the queue. */
function backTo (request: FastifyRequest): string {
  const m = /^\/console\/requests\/([0-9a-f-]{36})/.exec(request.url)
  if (m) return `/console/requests/${m[1]}`
  return request.operator ? '/console' : '/console/sign-in'
}
