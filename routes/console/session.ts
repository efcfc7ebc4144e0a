import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { Errors } from '../../src/errors.js'
import { shippedPath } from '../../src/shipped-path.js'

const SignInSchema = Type.Object({
  key: Type.String({ minLength: 1, maxLength: 512 }),
  _csrf: Type.Optional(Type.String({ maxLength: 200 }))
}, { additionalProperties: false })
const CsrfOnlySchema = Type.Object({ _csrf: Type.Optional(Type.String({ maxLength: 200 })) }, { additionalProperties: false })

/** Signing in with an API key, signing out, and the console's stylesheet and one small script. */
const session: FastifyPluginAsyncTypebox = async (fastify) => {
  const assets = join(shippedPath(import.meta.url, '../../views', 'console/console.css'), 'console')
  const css = readFileSync(join(assets, 'console.css'))
  const js = readFileSync(join(assets, 'console.js'))

  fastify.get('/console/assets/console.css', { config: { public: 'console', consoleScope: null }, schema: { hide: true } }, async (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(css))

  fastify.get('/console/assets/console.js', { config: { public: 'console', consoleScope: null }, schema: { hide: true } }, async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=3600').send(js))

  fastify.get('/console/sign-in', { config: { public: 'console', consoleScope: null }, schema: { hide: true } }, async (_request, reply) =>
    reply.type('text/html; charset=utf-8').view('console/sign-in', { title: 'Sign in', csrf: reply.generateCsrf(), operator: null }))

  fastify.post('/console/sign-in', { config: { public: 'console', consoleScope: null }, schema: { hide: true, body: SignInSchema } }, async (request, reply) => {
    const outcome = await fastify.consoleService.signIn(request.body.key.trim())
    if (outcome.status === 'unknown_key') throw new Errors.Unauthenticated()
    if (outcome.status === 'no_console_scope') throw new Errors.Forbidden('console')
    // A new session, and with it a new anti-forgery secret: nothing of the signed-out one carries over.
    request.session.regenerate()
    request.session.set('sid', outcome.session)
    request.session.set('key', outcome.keyHash)
    request.session.set('seen', Date.now())
    request.log.info({ operator: outcome.record.name }, 'console signed in')
    return reply.redirect('/console', 303)
  })

  fastify.post('/console/sign-out', { config: { public: 'console', consoleScope: 'console' }, schema: { hide: true, body: CsrfOnlySchema } }, async (request, reply) => {
    await fastify.consoleService.signOut(request.session.get('sid')!, request.operator!.name)
    request.session.delete()
    return reply.redirect('/console/sign-in', 303)
  })
}

export default session
