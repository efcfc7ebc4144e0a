import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { authErrorResponses, Defaulted, problem, ref } from '../../../src/schemas/common.js'
import {
  ConnectorHealthSchema, ConnectorHealthSummarySchema, ConnectorListSchema, RetentionSweepSchema
} from '../../../src/schemas/operations.js'
import { Errors } from '../../../src/errors.js'
import type { StoredHealth } from '../../../src/services/connectors-service.js'

const ConnectorParamsSchema = Type.Object({ id: Type.String({ pattern: '^[a-z][a-z0-9_]{0,39}$', description: 'Connector id' }) }, { additionalProperties: false })

function healthOf (id: string, h: StoredHealth | undefined) {
  return {
    connector: id,
    status: h?.status ?? 'unknown',
    latency_ms: h?.latencyMs ?? null,
    checked_at: h?.checkedAt.toISOString() ?? null,
    message: h?.message ?? null
  } as const
}

/** The configured connectors, their health (stored checks, or one run now) and retention sweeps. */
const connectors: FastifyPluginAsyncTypebox = async (fastify) => {
  const instanceOf = (id: string) => {
    const instance = fastify.connectors.get(id)
    if (!instance) throw new Errors.ConnectorNotFound(id)
    return instance
  }

  fastify.get('', {
    config: { scope: 'connectors:read' },
    schema: {
      tags: ['connectors'],
      operationId: 'listConnectors',
      summary: 'The configured connectors with their latest stored health check',
      description: 'Every connector configured in this deployment, what it can do, and its latest stored health check (none until one has run).',
      response: { 200: ref(ConnectorListSchema), ...authErrorResponses }
    }
  }, async () => {
    const latest = await fastify.connectorsService.latestHealth()
    return {
      data: [...fastify.connectors.values()].map((c) => ({
        id: c.id,
        driver: c.driver,
        display_name: c.displayName,
        capabilities: [...c.capabilities],
        streams: c.streams.map((s) => ({ name: s.name, description: s.description, categories: [...s.categories] })),
        required: c.required,
        health_check_seconds: c.healthCheckSeconds,
        health: healthOf(c.id, latest.get(c.id))
      }))
    }
  })

  fastify.get('/health', {
    config: { scope: 'connectors:read' },
    schema: {
      tags: ['connectors'],
      operationId: 'connectorHealthSummary',
      summary: 'How many connectors are ok, down or not yet checked, and each one\'s status',
      description: 'Counts of connectors by their latest stored health check (ok, down, not yet checked), with each connector\'s status. Nothing is checked by this call.',
      response: { 200: ref(ConnectorHealthSummarySchema), ...authErrorResponses }
    }
  }, async () => {
    const latest = await fastify.connectorsService.latestHealth()
    const list = [...fastify.connectors.keys()].map((id) => healthOf(id, latest.get(id)))
    const count = (s: string) => list.filter((h) => h.status === s).length
    return { counts: { ok: count('ok'), down: count('down'), unknown: count('unknown') }, connectors: list }
  })

  fastify.get('/:id/health', {
    config: { scope: 'connectors:read' },
    schema: {
      tags: ['connectors'],
      operationId: 'getConnectorHealth',
      summary: 'A connector\'s latest stored health check, or (live=true) one run now and stored',
      description: 'The latest stored health check of one connector. With live=true a check is run now against the system, stored, and returned. 404 for a connector not configured here.',
      params: ConnectorParamsSchema,
      querystring: Type.Object({ live: Defaulted(Type.Boolean({ default: false })) }, { additionalProperties: false }),
      response: { 200: ref(ConnectorHealthSchema), ...authErrorResponses, 404: problem() }
    }
  }, async (request) => {
    const { id } = request.params
    instanceOf(id)
    if (request.query.live) return healthOf(id, await fastify.connectorsService.checkNow(id))
    return healthOf(id, (await fastify.connectorsService.latestHealth()).get(id))
  })

  fastify.post('/:id/retention/sweep', {
    config: { scope: 'connectors:admin' },
    schema: {
      tags: ['connectors'],
      operationId: 'sweepConnectorRetention',
      summary: 'Run the connector\'s retention sweep now (dry_run=true only counts)',
      description: 'Deletes or blanks what is older than each retention rule allows, and records a retention_sweep system event with counts only.',
      params: ConnectorParamsSchema,
      querystring: Type.Object({ dry_run: Defaulted(Type.Boolean({ default: false })) }, { additionalProperties: false }),
      response: { 200: ref(RetentionSweepSchema), ...authErrorResponses, 404: problem(), 409: problem() }
    }
  }, async (request) => {
    const instance = instanceOf(request.params.id)
    if (!instance.connector.sweep) throw new Errors.RetentionNotConfigured(instance.id)
    return fastify.connectorsService.sweep(instance, { dryRun: request.query.dry_run, actor: request.principal!.name })
  })
}

export default connectors
