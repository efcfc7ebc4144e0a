import { Type, type Static, type TSchema } from 'typebox'
import { Value } from 'typebox/value'
import { ConfigError } from '../config.js'
import type { StreamInfo } from '../../connectors/types.js'
import type { Text } from './texts.js'

/**
 * What a system does with the data of each of its streams, as the connector file states it: what
 * GDPR Art 15(1)(a)–(h) and 15(2), and PIPL Arts 17 and 39, require to be given with a copy of the
 * data. Shown to the person in the archive (index.html, README.txt) and written to manifest.json.
 */

/** A text, in one language (taken as English) or per language: `{ "en": "…", "zh-Hans": "…" }` (texts.ts). */
export const TextSchema = Type.Union([
  Type.String({ minLength: 1 }),
  Type.Object({ en: Type.String({ minLength: 1 }), 'zh-Hans': Type.Optional(Type.String({ minLength: 1 })) }, { additionalProperties: false })
])

const closed = { additionalProperties: false } as const

const LocationSchema = Type.Object({
  country: Type.String({ pattern: '^[A-Z]{2}$', description: 'ISO 3166-1 alpha-2 code' }),
  /** `stored`: the data is kept there; `transferred`: it is sent there (to a recipient, for a purpose). */
  as: Type.Union([Type.Literal('stored'), Type.Literal('transferred')]),
  recipient: Type.Optional(TextSchema),
  /** The safeguard of a transfer (Art 46 GDPR: adequacy decision, standard contractual clauses, …; PIPL Art 38). */
  safeguard: Type.Optional(TextSchema)
}, closed)

const RetentionSchema = Type.Object({
  /** ISO 8601 duration, when the period is fixed (P1M, P2Y). */
  period: Type.Optional(Type.String({ pattern: '^P(?=\\d|T\\d)(\\d+Y)?(\\d+M)?(\\d+W)?(\\d+D)?(T(\\d+H)?(\\d+M)?(\\d+S)?)?$' })),
  /** The rule or criteria deciding how long, in words (always given: a period alone says nothing of when it starts). */
  rule: TextSchema
}, closed)

const fields = {
  /** A readable name for the stream (`result_recipients` → "Who your results were sent to"). */
  title: Type.Optional(TextSchema),
  purposes: Type.Optional(Type.Array(TextSchema, { minItems: 1 })),
  legal_basis: Type.Optional(TextSchema),
  /** Recipients or categories of recipients; an empty list says there are none. */
  recipients: Type.Optional(Type.Array(TextSchema)),
  retention: Type.Optional(RetentionSchema),
  /** Where the data comes from, when not from the person (Art 15(1)(g)); "you" otherwise. */
  source: Type.Optional(TextSchema),
  locations: Type.Optional(Type.Array(LocationSchema)),
  /** false, or what the automated decision is, its logic and its consequences (Art 15(1)(h)). */
  automated_decisions: Type.Optional(Type.Union([Type.Literal(false), TextSchema]))
}

const StreamProcessingSchema = Type.Object(fields, closed)

/**
 * The `processing` block of a connector entry: what holds for all its streams, and per stream
 * (`streams.<name>`) what differs. A stream's fields override the connector's, field by field.
 */
export const ProcessingSchema = Type.Object({
  ...fields,
  streams: Type.Optional(Type.Record(Type.String(), StreamProcessingSchema))
}, closed)
export type Processing = Static<typeof ProcessingSchema>

type StreamFields = Static<typeof StreamProcessingSchema>

/** One stream's processing information, complete: what the law does not allow to leave out is there. */
export interface StreamProcessing extends Omit<StreamFields, 'purposes' | 'retention' | 'locations' | 'recipients'> {
  purposes: Text[]
  retention: Static<typeof RetentionSchema> & {
    /** The system's own retention setting for this stream, when it enforces one (e.g. max_age P1M). */
    enforced?: NonNullable<StreamInfo['enforcedRetention']>
  }
  recipients: Text[]
  locations: Array<Static<typeof LocationSchema>>
}

/** A stream as the service knows it: what the driver declares, and what the connector file says of its processing. */
export interface ConfiguredStream extends StreamInfo { processing: StreamProcessing }

/** Fields a stream must have, whatever else is left out. */
const REQUIRED = ['purposes', 'retention'] as const

/**
 * Each stream with its processing information: the connector's defaults, overridden per stream.
 * A stream without purposes or a retention rule, or a `streams` entry naming no stream, stops the
 * service with the connector, stream and field named.
 */
export function configureStreams (connector: string, streams: readonly StreamInfo[], processing: Processing | undefined): ConfiguredStream[] {
  const { streams: perStream = {}, ...defaults } = processing ?? {}
  const names = new Set(streams.map((s) => s.name))
  const unknown = Object.keys(perStream).filter((n) => !names.has(n))
  if (unknown.length > 0) {
    throw new ConfigError(`connector "${connector}": /processing/streams/${unknown[0]} names no stream of this connector (its streams: ${[...names].join(', ')})`)
  }
  return streams.map((s) => {
    const merged: StreamFields = { ...defaults, ...perStream[s.name] }
    for (const field of REQUIRED) {
      if (merged[field] === undefined) {
        throw new ConfigError(`connector "${connector}": stream "${s.name}" has no ${field}: give /processing/${field} or /processing/streams/${s.name}/${field} (GDPR Art 15(1) requires it)`)
      }
    }
    const { purposes, retention, recipients, locations, ...rest } = merged
    return {
      ...s,
      processing: {
        ...rest,
        purposes: purposes!,
        retention: { ...retention!, ...(s.enforcedRetention ? { enforced: s.enforcedRetention } : {}) },
        recipients: recipients ?? [],
        locations: locations ?? []
      }
    }
  })
}

/** Checks a value against a schema, as a ConfigError naming `source` and the first fields wrong. */
export function checked<S extends TSchema> (schema: S, value: unknown, source: string): Static<S> {
  const errors = [...Value.Errors(schema, value)]
  if (errors.length > 0) throw new ConfigError(`${source}: ${errors.slice(0, 5).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ')}`)
  return value as Static<S>
}
