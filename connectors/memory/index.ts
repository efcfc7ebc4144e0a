import { Readable } from 'node:stream'
import { Type, type Static } from 'typebox'
import {
  ConnectorError, ConnectorErrorCodes, defineConnector, httpError, OPT_OUT_PURPOSE_NAMES,
  type Capability, type CollectedItem, type Connector, type ConnectorContext, type EraseOutcome, type FoundIdentity, type OptOutContext, type OptOutOutcome,
  type RestrictOutcome, type SubjectIdentity
} from '../types.js'

const FaultSchema = Type.Object({
  status: Type.Integer({ minimum: 400, maximum: 599, description: 'HTTP status the fake system answers with' }),
  times: Type.Integer({ minimum: 1, description: 'How many calls fail before it answers normally' }),
  retry_after_seconds: Type.Optional(Type.Integer({ minimum: 0 }))
}, { additionalProperties: false })

/** A file the system holds about someone (a document, a photo), named by their identifiers. */
const FileSchema = Type.Object({
  key: Type.String({ minLength: 1 }),
  name: Type.String({ minLength: 1 }),
  content_type: Type.String({ minLength: 1 }),
  content_base64: Type.String(),
  email: Type.Optional(Type.String()),
  phone: Type.Optional(Type.String()),
  customer_id: Type.Optional(Type.String())
}, { additionalProperties: false })

export const MemoryConfigSchema = Type.Object({
  streams: Type.Array(Type.Object({
    name: Type.String({ pattern: '^[a-z][a-z0-9_]{0,63}$' }),
    description: Type.String({ default: '' }),
    categories: Type.Array(Type.String(), { default: [] }),
    /** Which record field holds which subject identifier. */
    match: Type.Object({
      email: Type.Optional(Type.String()),
      phone: Type.Optional(Type.String()),
      customer_id: Type.Optional(Type.String())
    }, { additionalProperties: false }),
    records: Type.Array(Type.Record(Type.String(), Type.Unknown()), { default: [] }),
    /** Files of the stream; collected (as file items) for the person their identifiers name. */
    files: Type.Optional(Type.Array(FileSchema)),
    /** Restriction of processing: the record field marking a restricted record (true; false once lifted). */
    restrict: Type.Optional(Type.Object({ field: Type.String({ minLength: 1 }) }, { additionalProperties: false })),
    /**
     * Opt-out: the record field set, and its value once the person opted out (e.g. status: unsubscribed),
     * for the purposes it stops (marketing unless listed). Asked purposes it does not list are not_supported.
     */
    opt_out: Type.Optional(Type.Object({
      field: Type.String({ minLength: 1 }),
      value: Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]),
      purposes: Type.Optional(Type.Array(Type.Enum([...OPT_OUT_PURPOSE_NAMES]), { minItems: 1, uniqueItems: true }))
    }, { additionalProperties: false }))
  }, { additionalProperties: false }), { minItems: 1 }),
  /** Test and demo aid: make an action fail a number of times before it succeeds. */
  faults: Type.Optional(Type.Object({
    collect: Type.Optional(FaultSchema),
    erase: Type.Optional(FaultSchema),
    restrict: Type.Optional(FaultSchema),
    unrestrict: Type.Optional(FaultSchema),
    opt_out: Type.Optional(FaultSchema),
    health: Type.Optional(FaultSchema),
    /**
     * Erase reports every matching record of `stream` erased but leaves `rows` of them: a system
     * that says it erased and did not. With `reads`, they go after that many more collects (a
     * search index that lags the erasure); without, they stay.
     */
    erase_residue: Type.Optional(Type.Object({
      stream: Type.String({ minLength: 1 }),
      rows: Type.Integer({ minimum: 1 }),
      reads: Type.Optional(Type.Integer({ minimum: 1 }))
    }, { additionalProperties: false }))
  }, { additionalProperties: false }))
}, { additionalProperties: false })

export type MemoryConfig = Static<typeof MemoryConfigSchema>
type Fault = Static<typeof FaultSchema>
type MemoryFile = Static<typeof FileSchema>

type Action = 'collect' | 'erase' | 'restrict' | 'unrestrict' | 'opt_out' | 'health'
const ACTIONS: readonly Action[] = ['collect', 'erase', 'restrict', 'unrestrict', 'opt_out', 'health']

/** The in-memory system behind one memory connector, exposed so tests can inspect and steer it. */
export interface MemoryConnector extends Connector {
  readonly data: Map<string, Array<Record<string, unknown>>>
  /** How many calls of each kind reached the system. */
  readonly calls: Record<Action, number>
  setFault (action: Action, fault: Fault | null): void
}

const CAPABILITIES: readonly Capability[] = ['collect', 'erase', 'restrict', 'opt_out']

/** 'restrict' and 'opt_out' only when some stream says which field to set. */
function capabilitiesFor (config: MemoryConfig): Capability[] {
  return CAPABILITIES.filter((c) => (c !== 'restrict' || config.streams.some((s) => s.restrict)) && (c !== 'opt_out' || config.streams.some((s) => s.opt_out)))
}

/**
 * The reference connector: a system held in memory, seeded from its settings. It shows the
 * contract at its simplest and backs tests (including injected failures) and local demos.
 */
export const memoryConnector = defineConnector({
  driver: 'memory',
  displayName: 'In-memory system',
  version: 1,
  capabilities: CAPABILITIES,
  erasureCheck: { searchable: true, settleMs: 0 },
  capabilitiesFor,
  streams: [],
  streamsFor: (config: MemoryConfig) => config.streams.map((s) => ({ name: s.name, description: s.description, categories: s.categories })),
  configSchema: MemoryConfigSchema,
  secretFields: [],
  create: (config: MemoryConfig) => createMemoryConnector(config)
})

/** Creates the in-memory system and its connector. */
export function createMemoryConnector (config: MemoryConfig): MemoryConnector {
  const data = new Map(config.streams.map((s) => [s.name, s.records.map((r) => ({ ...r }))]))
  const files = new Map(config.streams.map((s) => [s.name, [...(s.files ?? [])]]))
  const faults: Partial<Record<Action, Fault & { left: number }>> = {}
  const calls: Record<Action, number> = { collect: 0, erase: 0, restrict: 0, unrestrict: 0, opt_out: 0, health: 0 }
  const setFault = (action: Action, fault: Fault | null) => {
    if (fault) faults[action] = { ...fault, left: fault.times }
    else delete faults[action]
  }
  const residue = config.faults?.erase_residue
  /** Records an erasure left behind while reporting them erased, and how many collects still see them. */
  const left: Array<{ stream: string, record: Record<string, unknown>, reads: number }> = []
  for (const action of ACTIONS) {
    const fault = config.faults?.[action]
    if (fault) setFault(action, fault)
  }
  const failIfFaulty = (action: Action) => {
    calls[action]++
    const fault = faults[action]
    if (!fault || fault.left <= 0) return
    fault.left--
    throw httpError(fault.status, `memory system answered ${fault.status}`,
      fault.retry_after_seconds !== undefined ? String(fault.retry_after_seconds) : null)
  }
  const matches = (record: Record<string, unknown>, match: MemoryConfig['streams'][number]['match'], subject: SubjectIdentity) =>
    (match.email !== undefined && subject.email !== undefined && String(record[match.email]).toLowerCase() === subject.email) ||
    (match.phone !== undefined && subject.phone !== undefined && record[match.phone] === subject.phone) ||
    (match.customer_id !== undefined && subject.customer_id !== undefined && String(record[match.customer_id]) === subject.customer_id)
  const fileOf = (file: MemoryFile, subject: SubjectIdentity) =>
    (file.email !== undefined && file.email.toLowerCase() === subject.email) ||
    (file.phone !== undefined && file.phone === subject.phone) ||
    (file.customer_id !== undefined && file.customer_id === subject.customer_id)

  /**
   * Sets `field` to `to` on the subject's records of every stream `settingOf` names a field for, and
   * yields per stream how many changed; streams where the subject has no record yield not_found.
   */
  function * mark<S extends string> (subject: SubjectIdentity, settingOf: (s: MemoryConfig['streams'][number]) => { field: string, to: unknown } | undefined, status: S) {
    for (const stream of config.streams) {
      const setting = settingOf(stream)
      if (!setting) continue
      const mine = (data.get(stream.name) ?? []).filter((r) => matches(r, stream.match, subject))
      let count = 0
      for (const record of mine) {
        if (record[setting.field] === setting.to) continue
        record[setting.field] = setting.to
        count++
      }
      yield mine.length > 0 ? { status, stream: stream.name, count } : { status: 'not_found' as const, stream: stream.name }
    }
  }
  const restrictable = config.streams.some((s) => s.restrict)

  return {
    data,
    calls,
    setFault,
    async health () {
      try {
        failIfFaulty('health')
        return { status: 'ok', latencyMs: 0 }
      } catch (err) {
        return { status: 'down', message: (err as Error).message, retryable: (err as ConnectorError).retryable }
      }
    },
    async * collect (ctx): AsyncIterable<CollectedItem> {
      failIfFaulty('collect')
      for (const l of left) l.reads--
      for (const l of left.filter((x) => x.reads < 0)) {
        data.set(l.stream, (data.get(l.stream) ?? []).filter((r) => r !== l.record))
        left.splice(left.indexOf(l), 1)
      }
      for (const stream of config.streams) {
        for (const [i, record] of (data.get(stream.name) ?? []).entries()) {
          if (ctx.signal.aborted) throw new ConnectorError(ConnectorErrorCodes.Timeout, 'aborted', { retryable: true })
          if (matches(record, stream.match, ctx.subject)) {
            yield { type: 'record', stream: stream.name, key: String(record.id ?? i), data: { ...record } }
          }
        }
        for (const file of (files.get(stream.name) ?? []).filter((f) => fileOf(f, ctx.subject))) {
          const content = Buffer.from(file.content_base64, 'base64')
          yield { type: 'file', stream: stream.name, key: file.key, name: file.name, contentType: file.content_type, open: async () => Readable.from([content]) }
        }
      }
    },
    /** The matching records' identifiers (the fields `match` names) and their `name`, where they have one. */
    async identify (ctx): Promise<FoundIdentity[]> {
      failIfFaulty('collect')
      return config.streams.flatMap((stream) => (data.get(stream.name) ?? []).filter((r) => matches(r, stream.match, ctx.subject)).map((record) => {
        const value = (field: string | undefined) => field !== undefined && record[field] !== undefined && record[field] !== null && record[field] !== '' ? String(record[field]) : undefined
        const email = value(stream.match.email)
        const phone = value(stream.match.phone)
        const customerId = value(stream.match.customer_id)
        const name = value('name')
        return {
          stream: stream.name,
          identifiers: { ...(email ? { email: email.toLowerCase() } : {}), ...(phone ? { phone } : {}), ...(customerId ? { customer_id: customerId } : {}) },
          ...(name ? { name } : {})
        }
      }))
    },
    async * erase (ctx): AsyncIterable<EraseOutcome> {
      failIfFaulty('erase')
      for (const stream of config.streams) {
        const rows = data.get(stream.name) ?? []
        const mine = rows.filter((r) => matches(r, stream.match, ctx.subject))
        // With the erase_residue fault, some of them stay, though reported erased.
        const stay = residue?.stream === stream.name ? mine.slice(0, residue.rows) : []
        for (const record of stay) left.push({ stream: stream.name, record, reads: residue?.reads ?? Infinity })
        data.set(stream.name, rows.filter((r) => !mine.includes(r) || stay.includes(r)))
        const held = files.get(stream.name) ?? []
        const keptFiles = held.filter((f) => !fileOf(f, ctx.subject))
        files.set(stream.name, keptFiles)
        const count = mine.length + held.length - keptFiles.length
        yield count > 0 ? { status: 'erased', stream: stream.name, count } : { status: 'not_found', stream: stream.name }
      }
    },
    ...(restrictable
      ? {
          async * restrict (ctx: ConnectorContext): AsyncIterable<RestrictOutcome> {
            failIfFaulty('restrict')
            yield * mark(ctx.subject, (s) => s.restrict && { field: s.restrict.field, to: true }, 'restricted')
          },
          async * unrestrict (ctx: ConnectorContext): AsyncIterable<RestrictOutcome> {
            failIfFaulty('unrestrict')
            yield * mark(ctx.subject, (s) => s.restrict && { field: s.restrict.field, to: false }, 'unrestricted')
          }
        }
      : {}),
    ...(config.streams.some((s) => s.opt_out)
      ? {
          async * optOut (ctx: OptOutContext): AsyncIterable<OptOutOutcome> {
            failIfFaulty('opt_out')
            const stops = (s: MemoryConfig['streams'][number]) => (s.opt_out?.purposes ?? ['marketing']).filter((p) => ctx.purposes.includes(p))
            for (const outcome of mark(ctx.subject, (s) => s.opt_out && stops(s).length > 0 ? { field: s.opt_out.field, to: s.opt_out.value } : undefined, 'opted_out')) {
              const stream = config.streams.find((s) => s.name === outcome.stream)!
              yield outcome.status === 'opted_out' ? { status: 'opted_out', stream: outcome.stream, count: outcome.count, purposes: stops(stream) } : { status: 'not_found', stream: outcome.stream }
            }
            // Streams that hold the person but cannot stop a purpose asked for say so.
            for (const stream of config.streams.filter((s) => s.opt_out)) {
              const cannot = ctx.purposes.filter((p) => !stops(stream).includes(p))
              if (cannot.length === 0 || !(data.get(stream.name) ?? []).some((r) => matches(r, stream.match, ctx.subject))) continue
              yield { status: 'not_supported', stream: stream.name, purposes: cannot, reason: `${stream.name} records no opt-out of ${cannot.join(', ')}` }
            }
          }
        }
      : {})
  }
}
