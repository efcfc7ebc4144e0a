import { createHash } from 'node:crypto'
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler'

type SerializerFactory = ReturnType<typeof SerializerSelector>
type Serializer = ReturnType<ReturnType<SerializerFactory>>

/**
 * Fastify's response serializers (fast-json-stringify, as by default), each distinct response schema
 * compiled once per process. Fastify asks for one serializer per route and status code: about 600
 * here, of about 40 distinct schemas (the error responses repeat on every route), and compiling every
 * one was most of the time an app took to start. A serializer depends only on its schema, the app's
 * shared schemas and the serializer options, so equal ones share one serializer, also between apps
 * built in one process (the tests build many).
 */
export const buildSerializer: SerializerFactory = (externalSchemas, options) => {
  let compile: ReturnType<ReturnType<typeof SerializerSelector>> | undefined
  const context = fingerprint([externalSchemas, options])
  return (route) => {
    const key = `${context}\n${JSON.stringify(route.schema)}`
    let serializer = serializers.get(key)
    if (!serializer) {
      compile ??= SerializerSelector()(externalSchemas, options)
      serializer = compile(route)
      serializers.set(key, serializer)
    }
    return serializer
  }
}

const serializers = new Map<string, Serializer>()

/** A short stand-in for a large JSON value, to key the caches of compiled schemas by. */
export function fingerprint (value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value) ?? '').digest('base64url')
}
