import { timingSafeEqual, createHash } from 'node:crypto'
import type { FastifyPluginAsync } from 'fastify'
import { Errors } from '../src/errors.js'

const digest = (s: string) => createHash('sha256').update(s).digest()

/**
 * GET /metrics: Prometheus text. Open like /health, unless METRICS_TOKEN is set: then it needs
 * `Authorization: Bearer <METRICS_TOKEN>` (a scrape token, separate from API keys). Not in the
 * OpenAPI document: it is for Prometheus, not for API clients.
 */
const metrics: FastifyPluginAsync = async (fastify) => {
  fastify.get('/metrics', { config: { public: 'metrics' }, schema: { hide: true } }, async (request, reply) => {
    const token = fastify.config.METRICS_TOKEN
    if (token) {
      const given = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1] ?? ''
      if (!timingSafeEqual(digest(given), digest(token))) throw new Errors.Unauthenticated()
    }
    const { contentType, body } = await fastify.metrics.render()
    return reply.type(contentType).send(body)
  })
}

export default metrics
