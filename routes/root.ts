import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'

const ServiceIndexSchema = Type.Object({
  service: Type.String(),
  docs: Type.String({ description: 'Swagger UI' }),
  openapi: Type.String({ description: 'The OpenAPI document' }),
  health: Type.String({ description: 'Readiness' }),
  requests: Type.String({ description: 'Data subject requests (API key)' }),
  console: Type.String({ description: 'The operator console (sign in with an API key that has the console scope)' }),
  privacy_centre: Type.String({ description: 'The privacy centre, where people make their own requests (needs SMTP_URL)' })
}, { additionalProperties: false })

/** `/`: where to go from here, for someone who just started the service and opened its address. */
const root: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/', {
    config: { public: 'docs' },
    schema: { hide: true, response: { 200: ServiceIndexSchema } }
  }, async (_request, reply) => {
    reply.header('link', '</docs>; rel="service-doc", </openapi.json>; rel="service-desc"')
    return { service: 'dsar-service', docs: '/docs', openapi: '/openapi.json', health: '/health/ready', requests: '/v1/requests', console: '/console', privacy_centre: '/privacy' }
  })
}

export default root
