import fp from 'fastify-plugin'
import { tidyOpenApi } from '../../openapi-tidy.js'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import pkg from '../../../package.json' with { type: 'json' }

/**
 * OpenAPI 3 document built from the route schemas, served at /openapi.json, with Swagger UI at /docs.
 * Shared schemas keep their `$id` as their component name, so generated clients get stable type names.
 * @see {@link https://github.com/fastify/fastify-swagger}
 */
export default fp(async function swaggerPlugin (fastify) {
  await fastify.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'dsar-service',
        version: pkg.version,
        description: 'Accepts data subject requests, tracks them against their legal deadlines, and fulfils them through connectors.'
      },
      // Relative: the document is served by the service it describes, at whatever address that has.
      servers: [{ url: '/', description: 'This service' }],
      tags: [
        { name: 'requests', description: 'Data subject requests: intake, status, audit trail' },
        { name: 'archives', description: 'Portability archives: download, byte ranges, signed links for the person' },
        { name: 'transfers', description: 'Direct transmission of archives to other controllers (GDPR Art 20(2))' },
        { name: 'verification', description: 'The verification link e-mailed to the person: no API key, its one-time token instead' },
        { name: 'callbacks', description: "Signed status callbacks to a request's callback_url: the delivery log and redelivery" },
        { name: 'suppressions', description: 'The suppression list: whether a person may be processed for a purpose, and why not' },
        { name: 'audit', description: 'The tamper-evident audit trail: the chain of audit events, its signed head, and their verification' },
        { name: 'health', description: 'Liveness and readiness probes, and the Prometheus metrics' },
        { name: 'connectors', description: 'The systems requests are fulfilled in: their health and retention' },
        { name: 'reports', description: 'Reports across requests: deadlines' },
        { name: 'backups', description: 'Backup restores: erasing again what a restored backup brought back' },
        { name: 'holds', description: 'Legal holds on a person: what an erasure keeps, on which legal ground, until when it is reviewed' },
        { name: 'accounts', description: 'Customer accounts: those managed for a customer, whose administrators instruct their end users\' requests' },
        { name: 'receipts', description: 'Signed erasure receipts and the keys that verify them' },
        { name: 'opendsr', description: 'OpenDSR 2.0 (and its v1 names, OpenGDPR) for controllers: discovery, requests, status and cancellation, answers and callbacks signed with the processor certificate' },
        { name: 'errors', description: 'The error catalogue: what the `type` of an error answer (application/problem+json) points at' }
      ],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'API key as a bearer token' },
          apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
          metricsToken: { type: 'http', scheme: 'bearer', description: 'METRICS_TOKEN, asked for by GET /metrics only when it is set' },
          signedLink: {
            type: 'apiKey',
            in: 'query',
            name: 'sig',
            description: 'A signed archive link: its HMAC signature (sig) over the link id and expiry (exp); no API key'
          },
          verificationLink: {
            type: 'apiKey',
            in: 'query',
            name: 'token',
            description: 'The one-time token of the verification link e-mailed to the person; no API key'
          }
        }
      }
    },
    transformObject: (doc) => ('openapiObject' in doc ? tidyOpenApi(doc.openapiObject) : doc.swaggerObject),
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`)
    }
  })
  await fastify.register(swaggerUi, { routePrefix: '/docs' })
  fastify.get('/openapi.json', { config: { public: 'docs' }, schema: { hide: true } }, async () => fastify.swagger())
}, { name: 'swagger' })
