import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { Defaulted } from '../../src/schemas/common.js'

const W = 480
const H = 80

/** The points of a latency chart (x by time, y by latency; a down check at the bottom line), as SVG coordinates. */
export function chartOf (checks: Array<{ checkedAt: Date, status: string, latencyMs: number | null }>, since: Date, until: Date) {
  const span = Math.max(1, until.getTime() - since.getTime())
  const max = Math.max(1, ...checks.map((c) => c.latencyMs ?? 0))
  const x = (d: Date) => Math.round(((d.getTime() - since.getTime()) / span) * (W - 10) + 5)
  const y = (ms: number) => Math.round(H - 5 - (ms / max) * (H - 15))
  const ok = checks.filter((c) => c.status === 'ok')
  return {
    width: W,
    height: H,
    maxMs: max,
    line: ok.map((c) => `${x(c.checkedAt)},${y(c.latencyMs ?? 0)}`).join(' '),
    ok: ok.map((c) => ({ x: x(c.checkedAt), y: y(c.latencyMs ?? 0) })),
    down: checks.filter((c) => c.status !== 'ok').map((c) => ({ x: x(c.checkedAt), y: H - 5 }))
  }
}

/** The connectors: each one's latest health, circuit, latency over time and last retention sweep. */
const connectors: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/console/connectors', {
    config: { public: 'console', consoleScope: 'connectors:read' },
    schema: { hide: true, querystring: Type.Object({ hours: Defaulted(Type.Integer({ minimum: 1, maximum: 720, default: 24 })) }, { additionalProperties: false }) }
  }, async (request, reply) => {
    const [latest, h] = await Promise.all([fastify.connectorsService.latestHealth(), fastify.consoleService.connectorHistory(request.query.hours)])
    const list = [...fastify.connectors.values()].map((c) => {
      const health = latest.get(c.id)
      const checks = h.history.get(c.id) ?? []
      return {
        id: c.id,
        name: c.displayName,
        capabilities: [...c.capabilities],
        health,
        // The circuit breaker parks a connector's tasks while its latest check says down (src/engine/circuit.ts).
        circuit: health?.status === 'down' ? 'open' : (health ? 'closed' : 'not checked'),
        checks: checks.length,
        downChecks: checks.filter((x) => x.status !== 'ok').length,
        chart: chartOf(checks, h.since, h.until),
        sweep: h.sweeps.get(c.id) ?? null
      }
    })
    return reply.type('text/html; charset=utf-8').view('console/connectors', {
      title: 'Connectors', operator: request.operator, csrf: reply.generateCsrf(), list, hours: request.query.hours
    })
  })
}

export default connectors
