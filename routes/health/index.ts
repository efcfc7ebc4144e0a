import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'

const LiveSchema = Type.Object({ status: Type.Literal('ok') }, { additionalProperties: false })
const ReadySchema = Type.Object({
  status: Type.Enum(['ok', 'unavailable']),
  checks: Type.Object({
    database: Type.Enum(['ok', 'unreachable']),
    migrations: Type.Enum(['current', 'pending', 'unknown']),
    connectors: Type.Optional(Type.Record(Type.String(), Type.Enum(['ok', 'down', 'unknown']), {
      description: 'Connectors marked required, by their latest stored health check; one down makes the service unavailable'
    }))
  }, { additionalProperties: false })
}, { additionalProperties: false })

const health: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/live', {
    config: { public: 'health' },
    schema: {
      tags: ['health'],
      operationId: 'getLiveness',
      summary: 'The process is up',
      description: 'Answers 200 as long as the process runs; it checks nothing else (GET /health/ready does). No API key needed.',
      response: { 200: LiveSchema }
    }
  }, async () => ({ status: 'ok' as const }))

  fastify.get('/ready', {
    config: { public: 'health' },
    schema: {
      tags: ['health'],
      operationId: 'getReadiness',
      summary: 'The database is reachable, its migrations are current and no required connector is down',
      description: '200 when the service can serve: its database answers, its migrations are current and no connector marked required is down by its latest stored health check; otherwise 503 with the same body, naming what is not ok. No API key needed.',
      response: { 200: ReadySchema, 503: ReadySchema }
    }
  }, async (_request, reply) => {
    const result = await fastify.readinessService.check()
    return reply.status(result.status === 'ok' ? 200 : 503).send(result)
  })
}

export default health
