import { timingSafeEqual, createHash } from 'node:crypto'
import type { FastifyPluginAsync } from 'fastify'
import { Errors } from '../src/errors.js'
import { problem } from '../src/schemas/common.js'

const digest = (s: string) => createHash('sha256').update(s).digest()

/**
 * GET /metrics: Prometheus text. Open like /health, unless METRICS_TOKEN is set: then it needs
 * `Authorization: Bearer <METRICS_TOKEN>` (a scrape token, separate from API keys).
 */
const metrics: FastifyPluginAsync = async (fastify) => {
  fastify.get('/metrics', {
    config: { public: 'metrics' },
    schema: {
      tags: ['health'],
      operationId: 'getMetrics',
      summary: 'Prometheus metrics',
      description: 'The Prometheus text exposition format, for a scraper rather than an API client. Open, unless METRICS_TOKEN ' +
        'is set: then it needs `Authorization: Bearer <METRICS_TOKEN>` (a scrape token, not an API key), else 401.',
      response: {
        200: { description: 'The metrics', content: { 'text/plain': { schema: { type: 'string', description: 'Prometheus text format 0.0.4' } } } },
        401: problem(),
        500: problem()
      }
    }
  }, async (request, reply) => {
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
