import type { FastifyInstance } from 'fastify'
import health from './health/index.js'
import requests from './v1/requests/index.js'
import fulfilment from './v1/requests/fulfilment.js'

/** Every route plugin with its prefix, listed explicitly so the API surface is reviewable in one place. */
export default async function routes (fastify: FastifyInstance): Promise<void> {
  await fastify.register(health, { prefix: '/health' })
  await fastify.register(requests, { prefix: '/v1/requests' })
  await fastify.register(fulfilment, { prefix: '/v1/requests' })
}
