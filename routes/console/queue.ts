import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { Defaulted } from '../../src/schemas/common.js'
import { RegimeSchema, RequestStatusSchema, RequestTypeSchema } from '../../src/schemas/requests.js'
import { OPEN_STATUSES } from '../../src/domain/lifecycle.js'
import { REQUEST_TYPES } from '../../src/domain/requests.js'
import { REGIMES } from '../../src/domain/deadlines.js'

const QueueQuerySchema = Type.Object({
  status: Type.Optional(Type.Array(RequestStatusSchema, { maxItems: 10 })),
  type: Type.Optional(Type.Array(RequestTypeSchema, { maxItems: 10 })),
  regime: Type.Optional(Type.Array(RegimeSchema, { maxItems: 10 })),
  connector: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9_]{0,39}$' })),
  limit: Defaulted(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
  cursor: Type.Optional(Type.String({ maxLength: 200 }))
}, { additionalProperties: false })

/** The queue: open requests, overdue first, then children, then by effective deadline; filtered and paged like GET /v1/requests. */
const queue: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/console', {
    config: { public: 'console', consoleScope: 'requests:read' },
    schema: { hide: true, querystring: QueueQuerySchema }
  }, async (request, reply) => {
    const q = request.query
    const page = await fastify.consoleService.queue(q)
    const filters = new URLSearchParams()
    for (const name of ['status', 'type', 'regime'] as const) for (const v of q[name] ?? []) filters.append(name, v)
    if (q.connector) filters.set('connector', q.connector)
    if (q.limit !== 50) filters.set('limit', String(q.limit))
    const next = page.next_cursor ? `/console?${new URLSearchParams([...filters, ['cursor', page.next_cursor]])}` : null
    return reply.type('text/html; charset=utf-8').view('console/queue', {
      title: 'Queue',
      operator: request.operator,
      csrf: reply.generateCsrf(),
      rows: page.data,
      next,
      first: q.cursor ? `/console?${filters}` : null,
      q,
      choices: { status: OPEN_STATUSES, type: REQUEST_TYPES, regime: REGIMES, connector: [...fastify.connectors.keys()] }
    })
  })
}

export default queue
