import { createHmac, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import formbody from '@fastify/formbody'
import rateLimit from '@fastify/rate-limit'
import { Type } from 'typebox'
import type { Language } from '../../src/connectors/texts.js'
import { LANGUAGE_NAMES } from '../../src/archive/labels.js'
import { Errors } from '../../src/errors.js'
import { toApiError, unavailableError } from '../../src/plugins/external/errors.js'
import { serverPages } from '../../src/plugins/external/server-pages.js'
import { CENTRE_RIGHTS, fill, pickLanguage, type CentreTexts } from '../../src/privacy-centre/texts.js'
import type { PrivacyCentreService } from '../../src/services/privacy-centre-service.js'
import { shippedPath } from '../../src/shipped-path.js'

const VIEWS = shippedPath(import.meta.url, '../../views', 'privacy/layout.eta')
const hidden = { hide: true } as const
const open = { public: 'privacy_centre' } as const

const LangQuery = Type.Object({ lang: Type.Optional(Type.String({ maxLength: 20 })) })
const TokenQuery = Type.Object({ token: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' }), lang: Type.Optional(Type.String({ maxLength: 20 })) })
const StatusParams = Type.Object({ id: Type.String({ format: 'uuid' }) })
const StatusQuery = Type.Object({
  exp: Type.Optional(Type.String({ maxLength: 20 })),
  sig: Type.Optional(Type.String({ maxLength: 100 })),
  lang: Type.Optional(Type.String({ maxLength: 20 }))
})
const SubmitBody = Type.Object({
  type: Type.Enum([...CENTRE_RIGHTS]),
  email: Type.String({ format: 'email', maxLength: 254 }),
  lang: Type.Optional(Type.String({ maxLength: 20 }))
})
const EmptyBody = Type.Object({}, { additionalProperties: true })

/** Every page: not cached, and the link's token or signature never passed on in a Referer. */
const PAGE_HEADERS = { 'cache-control': 'no-store', 'content-type': 'text/html; charset=utf-8' }

/**
 * The privacy centre (/privacy), for the people whose data it is: choose a right and give an e-mail
 * address, confirm through the e-mailed link, follow the request through its signed status link, and
 * download the data through a signed archive link. Public, with limits per client address and per
 * e-mail address; no cookie; no script; its words in each configured language. Hidden from the
 * OpenAPI document: it is not the API.
 */
export default async function privacyRoutes (fastify: FastifyInstance): Promise<void> {
  const centre = fastify.privacyCentre
  if (!centre) {
    const notServed = async () => { throw new Errors.PrivacyCentreNotConfigured() }
    fastify.all('/privacy', { config: open, schema: hidden }, notServed)
    fastify.all('/privacy/*', { config: open, schema: hidden }, notServed)
    return
  }
  await fastify.register(formbody, { bodyLimit: 4 * 1024 })
  // The confirmation token and the status link's signature stay on this site (no referrer); no script.
  await serverPages(fastify, { views: VIEWS, scripts: false, referrerPolicy: 'no-referrer' })
  await fastify.register(rateLimit, { global: false, cache: 10_000 })
  await fastify.register(pages, { centre })
}

interface PageContext { language: Language, texts: CentreTexts, languages: Array<{ code: Language, name: string, href: string, current: boolean }> }

const pages: FastifyPluginAsyncTypebox<{ centre: PrivacyCentreService }> = async (fastify, { centre }) => {
  const config = fastify.privacyCentreConfig
  const settings = fastify.config
  const css = readFileSync(join(VIEWS, 'privacy/privacy.css'))
  const window = settings.PRIVACY_RATE_LIMIT_WINDOW_MINUTES * 60_000
  // Counted by a keyed hash of the address, so the limiter's memory holds no e-mail address.
  const emailKey = randomBytes(32)
  const perClient = fastify.createRateLimit({ max: settings.PRIVACY_RATE_LIMIT_PER_IP, timeWindow: window })
  const perEmail = fastify.createRateLimit({
    max: settings.PRIVACY_RATE_LIMIT_PER_EMAIL,
    timeWindow: window,
    keyGenerator: (request) => createHmac('sha256', emailKey).update(String((request.body as { email?: string }).email ?? '').trim().toLowerCase()).digest('base64url')
  })
  const limit = async (limiter: typeof perClient, request: FastifyRequest, reply: FastifyReply) => {
    const state = await limiter(request)
    if (state.isAllowed || !state.isExceeded) return
    reply.header('retry-after', String(state.ttlInSeconds))
    throw new Errors.TooManyRequests(state.ttlInSeconds)
  }

  /** The page's language and the links that switch it (the same address with another `lang`). */
  function context (request: FastifyRequest): PageContext {
    const asked = (request.query as { lang?: string } | undefined)?.lang ?? (request.body as { lang?: string } | undefined)?.lang
    const language = pickLanguage(config.languages, asked, request.headers['accept-language'])
    const url = new URL(request.url, 'http://centre')
    const languages = config.languages.map((code) => {
      url.searchParams.set('lang', code)
      return { code, name: LANGUAGE_NAMES[code], href: request.method === 'GET' ? `${url.pathname}${url.search}` : `/privacy?lang=${code}`, current: code === language }
    })
    return { language, texts: config.texts[language]!, languages }
  }
  const render = (reply: FastifyReply, page: string, ctx: PageContext, title: string, data: Record<string, unknown> = {}) =>
    reply.headers(PAGE_HEADERS).view(`privacy/${page}`, { ...ctx, title, ...data })

  // An address pasted with spaces around it is the address.
  fastify.addHook('preValidation', async (request) => {
    const body = request.body as Record<string, unknown> | undefined
    if (body && typeof body === 'object' && typeof body.email === 'string') body.email = body.email.trim()
  })

  // A form sent from another site is refused before it does anything (the browser says where it came from).
  fastify.addHook('preHandler', async (request, reply) => {
    if (request.method !== 'POST') return
    const site = request.headers['sec-fetch-site']
    if (site !== undefined && site !== 'same-origin' && site !== 'none') throw new Errors.CrossSiteForm()
    const origin = request.headers.origin
    if (origin !== undefined && origin !== 'null' && URL.canParse(origin) && new URL(origin).host !== request.headers.host) throw new Errors.CrossSiteForm()
    await limit(perClient, request, reply)
  })

  // Errors as a page in the person's language, with the same status and code as the API's.
  fastify.setErrorHandler((err: FastifyError, request, reply) => {
    const away = unavailableError(err)
    const e = away ?? toApiError(err)
    if (away) reply.header('retry-after', String(away.retryAfter))
    if (e.statusCode >= 500 && !away) request.log.error({ err }, 'privacy centre request failed')
    else request.log.info({ code: e.code, statusCode: e.statusCode }, 'privacy centre request refused')
    const ctx = context(request)
    const message = e.code === Errors.ValidationFailed.code
      ? invalid(ctx.texts, request.url) ?? e.message
      : e.code === Errors.TooManyRequests.code
        ? fill(ctx.texts.tooMany, { minutes: Math.ceil(Number(reply.getHeader('retry-after')) / 60) })
        : ctx.texts.messages?.[e.code] ?? e.message
    return reply.status(e.statusCode).headers(PAGE_HEADERS)
      .view('privacy/error', { ...ctx, title: ctx.texts.errorTitle, message, code: e.code, status: e.statusCode })
  })

  fastify.get('/privacy/assets/privacy.css', { config: open, schema: hidden }, async (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(css))

  fastify.get('/privacy', { config: open, schema: { ...hidden, querystring: LangQuery } }, async (request, reply) => {
    const ctx = context(request)
    return render(reply, 'form', ctx, ctx.texts.title, {
      rights: config.rights.map((r) => ({ value: r, label: ctx.texts.rightNames[r] })),
      rectification: centre.howTo('rectification', ctx.language),
      about: centre.about(ctx.language),
      systems: centre.systems(ctx.language)
    })
  })

  // The same answer for every address, known or not: the work is the same (no system is searched
  // before confirmation), and the page says only that a message is on its way if the address is right.
  fastify.post('/privacy/requests', {
    config: open,
    schema: { ...hidden, body: SubmitBody },
    preHandler: async (request, reply) => limit(perEmail, request, reply)
  }, async (request, reply) => {
    const ctx = context(request)
    await centre.submit(request.body.type, request.body.email, ctx.language)
    return reply.redirect(`/privacy/sent?lang=${encodeURIComponent(ctx.language)}`, 303)
  })

  fastify.get('/privacy/sent', { config: open, schema: { ...hidden, querystring: LangQuery } }, async (request, reply) => {
    const ctx = context(request)
    return render(reply, 'sent', ctx, ctx.texts.sentTitle, { hours: Math.round(settings.VERIFICATION_TTL_MINUTES / 60) })
  })

  // Opening the e-mailed link changes nothing (mail scanners open links too): its button confirms.
  fastify.get('/privacy/confirm', { config: open, schema: { ...hidden, querystring: TokenQuery } }, async (request, reply) => {
    const ctx = context(request)
    return render(reply, 'confirm', ctx, ctx.texts.confirmTitle, { action: `/privacy/confirm?token=${request.query.token}&lang=${encodeURIComponent(ctx.language)}` })
  })

  fastify.post('/privacy/confirm', { config: open, schema: { ...hidden, querystring: TokenQuery, body: EmptyBody } }, async (request, reply) => {
    const ctx = context(request)
    return reply.redirect(await centre.confirm(request.query.token, ctx.language), 303)
  })

  fastify.get('/privacy/status/:id', { config: open, schema: { ...hidden, params: StatusParams, querystring: StatusQuery } }, async (request, reply) => {
    centre.checkStatusLink(request.params.id, request.query.exp, request.query.sig)
    const ctx = context(request)
    const status = await centre.status(request.params.id)
    const { exp, sig } = request.query
    return render(reply, 'status', ctx, ctx.texts.statusTitle, {
      status,
      typeName: ctx.texts.rightNames[status.type as keyof CentreTexts['rightNames']] ?? status.type,
      date: dateFormat(ctx.language),
      download: `/privacy/status/${status.requestId}/download?exp=${exp}&sig=${sig}&lang=${encodeURIComponent(ctx.language)}`,
      systems: centre.systems(ctx.language),
      about: centre.about(ctx.language)
    })
  })

  // Each press makes a fresh signed archive link, recorded on the request's trail, and leads to it.
  fastify.post('/privacy/status/:id/download', { config: open, schema: { ...hidden, params: StatusParams, querystring: StatusQuery, body: EmptyBody } }, async (request, reply) => {
    centre.checkStatusLink(request.params.id, request.query.exp, request.query.sig)
    return reply.redirect(await centre.downloadLink(request.params.id), 303)
  })
}

/** What a person is told of input that does not read: the form's fields, or a link that was cut or changed. */
function invalid (texts: CentreTexts, url: string): string | undefined {
  if (url.startsWith('/privacy/requests')) return texts.invalidForm
  if (url.startsWith('/privacy/confirm')) return texts.messages?.[Errors.VerificationLinkInvalid.code]
  if (url.startsWith('/privacy/status')) return texts.messages?.[Errors.StatusLinkInvalid.code]
  return undefined
}

/** Dates as the person reads them, in their language (UTC: the status page gives days, not hours). */
function dateFormat (language: Language): (d: Date) => string {
  const f = new Intl.DateTimeFormat(language === 'zh-Hans' ? 'zh-CN' : 'en-GB', { dateStyle: 'long', timeZone: 'UTC' })
  return (d) => f.format(d)
}
