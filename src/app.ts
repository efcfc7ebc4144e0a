import { randomUUID } from 'node:crypto'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify'
import fp from 'fastify-plugin'
import { apiSchemas } from './schemas/index.js'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Config } from './config.js'
import type { DbHandle } from './db/client.js'
import { loggerOptions } from './logger.js'
import { createValidatorCompiler } from './validation.js'
import { jsonBodyParser } from './json-body.js'
import errors, { problemBody, toApiError } from './plugins/external/errors.js'
import { PROBLEM_JSON } from './schemas/common.js'
import swagger from './plugins/external/swagger.js'
import core from './plugins/app/core.js'
import metrics from './plugins/app/metrics.js'
import engine from './plugins/app/engine.js'
import scheduler from './plugins/app/scheduler.js'
import archivesService from './plugins/app/archives-service.js'
import requestsService from './plugins/app/requests-service.js'
import transfersService from './plugins/app/transfers-service.js'
import callbacksService from './plugins/app/callbacks-service.js'
import auth from './plugins/app/auth.js'
import connectorsService from './plugins/app/connectors-service.js'
import readinessService from './plugins/app/readiness-service.js'
import receiptsService from './plugins/app/receipts-service.js'
import erasurePreviewService from './plugins/app/erasure-preview-service.js'
import identityReviewService from './plugins/app/identity-review-service.js'
import auditService from './plugins/app/audit-service.js'
import holdsService from './plugins/app/holds-service.js'
import reportsService from './plugins/app/reports-service.js'
import restoresService from './plugins/app/restores-service.js'
import verificationService from './plugins/app/verification-service.js'
import suppressionsService from './plugins/app/suppressions-service.js'
import opendsrService from './plugins/app/opendsr-service.js'
import accountsService from './plugins/app/accounts-service.js'
import consoleService from './plugins/app/console-service.js'
import privacyCentreService from './plugins/app/privacy-centre-service.js'
import routes from '../routes/index.js'
import type { KeyRecord } from './services/api-keys.js'
import type { ConnectorRegistry } from './connectors/registry.js'
import type { BlobStore } from './storage/blob-store.js'
import { createBlobStore } from './storage/from-config.js'
import type { HostResolver } from './transfers/addresses.js'
import { buildSerializer } from './serialization.js'

export interface AppOptions {
  config: Config
  dbh: DbHandle
  apiKeys: ReadonlyMap<string, KeyRecord>
  /** The configured connectors; none by default. */
  registry?: ConnectorRegistry
  /** Where collected files and archives go; by default the store the configuration names (storage/from-config.ts). */
  storage?: BlobStore
  /** Start the engine when ready (default true); tools that only need the routes turn it off. */
  startEngine?: boolean
  /** DNS for direct transfers and status callbacks; the system resolver by default. */
  resolveHost?: HostResolver
}

/** The whole service as a Fastify plugin; entry points (server, tests, benchmarks) only boot it. */
export async function app (fastify: FastifyInstance, opts: AppOptions): Promise<void> {
  for (const schema of apiSchemas) fastify.addSchema(schema)
  fastify.setValidatorCompiler(createValidatorCompiler(() => fastify.getSchemas()))
  // Bodies are JSON only: Fastify's built-in text/plain parser would hand a string to validation
  // ("body/ must be object") where the API promises 415.
  fastify.removeContentTypeParser('text/plain')
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, jsonBodyParser(fastify))
  await fastify.register(errors)
  const storage = opts.storage ?? await createBlobStore(opts.config)
  // A store the app made is the app's to close; one it was given is its owner's.
  if (!opts.storage) fastify.addHook('onClose', async () => { await storage.close?.() })
  await fastify.register(core, { ...opts, registry: opts.registry ?? new Map(), storage })
  const startEngine = opts.startEngine ?? true
  await fastify.register(metrics)
  await fastify.register(engine, { startEngine })
  await fastify.register(scheduler, { startEngine })
  // One plugin per service (name, dependencies); routes call services, never the database, the engine or a queue.
  for (const service of [suppressionsService, archivesService, requestsService, transfersService, callbacksService, connectorsService, readinessService, receiptsService, auditService, erasurePreviewService, identityReviewService, reportsService, restoresService, verificationService, holdsService, opendsrService, accountsService, consoleService, privacyCentreService]) {
    await fastify.register(service)
  }
  // Before swagger and the routes: it sees every route registered after it, refuses one with
  // neither a scope nor a public reason, and writes the route's OpenAPI security.
  await fastify.register(auth)
  await fastify.register(swagger)
  await fastify.register(routes)
}

/** Server options shared by every entry point. `logger` may be replaced (tests capture logs). */
export function serverOptions (config: Config, overrides: Partial<FastifyServerOptions> = {}): FastifyServerOptions {
  return {
    ...(overrides.loggerInstance ? {} : { logger: loggerOptions(config) }),
    bodyLimit: config.BODY_LIMIT_BYTES,
    ...(config.TRUST_PROXY === undefined ? {} : { trustProxy: trustProxy(config.TRUST_PROXY) }),
    // A caller's X-Request-Id is kept for correlation only when it looks like an id, so free text
    // (possibly personal data) cannot ride into every log line.
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id']
      return typeof given === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(given) ? given : randomUUID()
    },
    // While closing, new requests get 503 DSR_UNAVAILABLE with Retry-After from the errors plugin,
    // as a problem document like every other error, not fastify's own body.
    return503OnClosing: false,
    // Errors the router raises before any route or hook runs (a malformed %-escape in the path, a
    // path parameter over maxParamLength) get the service's error shape too.
    schemaController: { compilersFactory: { buildSerializer } },
    frameworkErrors: (err, _request, reply) => {
      const body = toApiError(err)
      return (reply as FastifyReply).status(body.statusCode).type(PROBLEM_JSON).send(problemBody(body))
    },
    ...overrides
  }
}

export async function buildApp (opts: AppOptions, overrides: Partial<FastifyServerOptions> = {}) {
  const fastify = Fastify(serverOptions(opts.config, overrides)).withTypeProvider<TypeBoxTypeProvider>()
  // fp: the app's decorators (swagger, services) stay visible on the instance the entry point holds.
  await fastify.register(fp(app), opts)
  return fastify
}

/** TRUST_PROXY as fastify takes it: true, a hop count, or the addresses and ranges. */
function trustProxy (setting: string): FastifyServerOptions['trustProxy'] {
  if (setting === 'true') return true
  // A hop count is a number at run time (fastify's request.js), which its type declarations leave out.
  return /^[0-9]+$/.test(setting) ? Number(setting) as unknown as string : setting.replace(/\s+/g, '')
}
