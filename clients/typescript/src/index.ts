import createClient, { type Client, type ClientOptions } from 'openapi-fetch'
import type { components, operations, paths } from './schema.js'

export type { components, operations, paths }

/** The client: `GET`, `POST`, … typed by path, parameters, bodies and answers (openapi-fetch). */
export type DsarClient = Client<paths>

/** Every error answer: `application/problem+json` (RFC 9457) with the service's `code`. */
export type Problem = components['schemas']['Error']

/** A data subject request as the service answers it. */
export type DataSubjectRequest = components['schemas']['DataSubjectRequest']

export interface DsarClientOptions extends ClientOptions {
  /** Where the service is, e.g. https://dsar.example.com (its paths begin with /v1, /health, …). */
  baseUrl: string
  /** An API key, sent as `Authorization: Bearer <key>`; leave out for the open routes and signed links. */
  apiKey?: string | undefined
}

/**
 * A typed client of dsar-service, generated from its OpenAPI document:
 *
 *   const dsar = createDsarClient({ baseUrl: 'http://localhost:3000', apiKey })
 *   const { data, error } = await dsar.POST('/v1/requests', { body: { type: 'access', … } })
 *
 * `error` is the `Problem` of a 4xx or 5xx; switch on `error.code`.
 */
export function createDsarClient ({ apiKey, ...options }: DsarClientOptions): DsarClient {
  const client = createClient<paths>(options)
  if (apiKey !== undefined) {
    client.use({
      onRequest ({ request }) {
        request.headers.set('authorization', `Bearer ${apiKey}`)
        return request
      }
    })
  }
  return client
}

/** Whether a value is an error answer of the service (a `Problem`). */
export function isProblem (value: unknown): value is Problem {
  const v = value as Partial<Problem> | null
  return typeof v === 'object' && v !== null && typeof v.code === 'string' && typeof v.status === 'number' && typeof v.type === 'string'
}
