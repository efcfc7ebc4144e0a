import { SerializerSelector } from '@fastify/fast-json-stringify-compiler'

type SerializerFactory = ReturnType<typeof SerializerSelector>
type Serializer = ReturnType<ReturnType<SerializerFactory>>

/**
 * Fastify's response serializers (fast-json-stringify, as by default), each distinct response schema
 * compiled once per app. Fastify asks for one serializer per route and status code: about 600 here,
 * of about 40 distinct schemas (the error responses repeat on every route), and compiling every one
 * was most of the time an app took to start. A serializer depends only on its schema and the app's
 * shared schemas, which are the same for the whole app, so equal schemas share one.
 */
export const buildSerializer: SerializerFactory = (externalSchemas, options) => {
  const compile = SerializerSelector()(externalSchemas, options)
  const compiled = new Map<string, Serializer>()
  return (route) => {
    const key = JSON.stringify(route.schema)
    let serializer = compiled.get(key)
    if (!serializer) {
      serializer = compile(route)
      compiled.set(key, serializer)
    }
    return serializer
  }
}
