import { Type, type Static } from 'typebox'
import { ConnectorError, ConnectorErrorCodes, OPT_OUT_PURPOSE_NAMES, type Capability, type OptOutPurposeName, type StreamInfo } from '../types.js'
import { IDENT_PATTERN, TABLE_PATTERN, bareTableName } from './identifiers.js'
import { RetentionRuleSchema, checkRetention } from './retention.js'
import { HOLD_GROUND_CODES } from '../../src/domain/hold-grounds.js'

const closed = { additionalProperties: false } as const

/** An ISO 8601 duration of years, months, weeks or days (P6Y, P1Y6M, P90D). */
export const ISO_DURATION = '^P(?!$)(\\d+Y)?(\\d+M)?(\\d+W)?(\\d+D)?$'

const Ident = Type.String({ pattern: IDENT_PATTERN, description: 'a column name: letters, digits, _; not starting with a digit' })
const TableName = Type.String({ pattern: TABLE_PATTERN, description: 'a table, optionally schema-qualified (schema.table)' })

export const IdentityKindSchema = Type.Union([
  Type.Literal('email'), Type.Literal('phone'), Type.Literal('customer_id'), Type.Literal('account_id'),
  Type.Literal('email_sha256'), Type.Literal('phone_sha256'), Type.Literal('external_id')
])
export type IdentityKind = Static<typeof IdentityKindSchema>

export const IdentitySchema = Type.Object({
  column: Ident,
  kind: IdentityKindSchema,
  /** For `external_id`: which `subject.external_ids[].system` this column holds. Required for that kind. */
  system: Type.Optional(Type.String({ minLength: 1 })),
  /** Compare lower-cased on both sides (`lower(column) = lower(value)`). */
  case_insensitive: Type.Optional(Type.Boolean())
}, closed)

export const ReferenceSchema = Type.Object({
  column: Ident,
  /** The parent table, spelled exactly as its `table` in the same dataset. */
  table: TableName,
  to: Ident
}, closed)

export const ColumnEraseSchema = Type.Union([
  Type.Object({ strategy: Type.Literal('null') }, closed),
  Type.Object({ strategy: Type.Literal('fixed'), value: Type.Union([Type.String(), Type.Number(), Type.Boolean()]) }, closed),
  Type.Object({ strategy: Type.Literal('hash') }, closed),
  Type.Object({
    strategy: Type.Literal('keep'),
    reason: Type.String({ minLength: 1 }),
    /** The legal ground the column is kept on (a code of src/domain/hold-grounds.ts). */
    ground: Type.Optional(Type.Enum([...HOLD_GROUND_CODES])),
    /** When keeping it is to be reviewed, as an ISO 8601 duration from the erasure (P6Y, P18M). */
    review: Type.Optional(Type.String({ pattern: ISO_DURATION }))
  }, closed)
])
export type ColumnErase = Static<typeof ColumnEraseSchema>

const MarkValue = Type.Union([Type.String(), Type.Number(), Type.Boolean()])

/**
 * How the table marks a row whose processing is restricted (GDPR Art 18; the ICO: "marking" the
 * data): `column` is set to `value` (default true) to restrict and back to `lifted` (default false;
 * null allowed) to lift; `since_column`, a nullable timestamp, records when (null once lifted).
 */
export const RestrictSchema = Type.Object({
  column: Ident,
  value: Type.Optional(MarkValue),
  lifted: Type.Optional(Type.Union([MarkValue, Type.Null()])),
  since_column: Type.Optional(Ident)
}, closed)
export type RestrictConfig = Static<typeof RestrictSchema>

/** The marks with their defaults: restricted `true`, lifted `false`. */
export function restrictMarks (r: RestrictConfig): { value: string | number | boolean, lifted: string | number | boolean | null } {
  return { value: r.value ?? true, lifted: r.lifted === undefined ? false : r.lifted }
}

/**
 * How the table records that a person stopped one purpose: `column` is set to `value` (default
 * false: consent withdrawn); `opted_in`, when given, is the value while they have not, which `value`
 * must differ from; `since_column`, a timestamp, records when (set when the column changes).
 */
export const OptOutColumnSchema = Type.Object({
  column: Ident,
  value: Type.Optional(Type.Union([MarkValue, Type.Null()])),
  opted_in: Type.Optional(Type.Union([MarkValue, Type.Null()])),
  since_column: Type.Optional(Ident)
}, closed)
export type OptOutColumn = Static<typeof OptOutColumnSchema>

/**
 * Opt-out (capability `opt_out`): per purpose the table records, the column that says the person
 * stopped it. An opt-out sets only the columns of the purposes it asks for; nothing else changes.
 */
export const OptOutSchema = Type.Object({
  marketing: Type.Optional(OptOutColumnSchema),
  partner_sharing: Type.Optional(OptOutColumnSchema),
  profiling: Type.Optional(OptOutColumnSchema)
}, { ...closed, minProperties: 1 })
export type OptOutConfig = Static<typeof OptOutSchema>

/** The table's opt-out columns, by purpose, in the catalogue's order. */
export function optOutColumns (o: OptOutConfig): Array<[OptOutPurposeName, OptOutColumn]> {
  return OPT_OUT_PURPOSE_NAMES.flatMap((p) => (o[p] ? [[p, o[p]] as [OptOutPurposeName, OptOutColumn]] : []))
}

/** The value an opt-out sets, with its default (false). */
export function optOutValue (c: OptOutColumn): string | number | boolean | null {
  return c.value === undefined ? false : c.value
}

export const TableSchema = Type.Object({
  table: TableName,
  stream: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$' })),
  description: Type.Optional(Type.String()),
  categories: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  primary_key: Type.Array(Ident, { minItems: 1 }),
  identity: Type.Optional(Type.Array(IdentitySchema)),
  /**
   * The column naming the customer account a row belongs to (a table with `identity` only). Rows
   * reached through a reference belong to the account of the row they reach. Requests of a managed
   * account's end users then touch only what their administrator instructed (ConnectorContext.accounts).
   */
  account: Type.Optional(Ident),
  references: Type.Optional(Type.Array(ReferenceSchema)),
  exclude_columns: Type.Optional(Type.Array(Ident)),
  erase: Type.Union([
    Type.Literal('delete'),
    Type.Object({ columns: Type.Record(Ident, ColumnEraseSchema, closed) }, closed)
  ]),
  /** Restriction of processing: how rows are marked (capability `restrict`). Tables without it are not marked. */
  restrict: Type.Optional(RestrictSchema),
  /** Opt-out: the column set per purpose (capability `opt_out`). Tables without it are not touched by an opt-out. */
  opt_out: Type.Optional(OptOutSchema)
}, closed)
export type TableConfig = Static<typeof TableSchema>

export const DatasetSchema = Type.Object({
  name: Type.String({ minLength: 1 }),
  tables: Type.Array(TableSchema, { minItems: 1 })
}, closed)

export const PostgresConfigSchema = Type.Object({
  /** postgres://… of the system's database, or `embedded:` for the service's own database. */
  url: Type.String({ pattern: '^(postgres(ql)?://.+|embedded:)$' }),
  /** Appended to values before hashing (strategy `hash`); required when any column uses it. */
  salt: Type.Optional(Type.String({ minLength: 8 })),
  datasets: Type.Array(DatasetSchema, { minItems: 1 }),
  /** Retention rules the scheduler enforces (see retention.ts). */
  retention: Type.Optional(Type.Array(RetentionRuleSchema))
}, closed)
export type PostgresConfig = Static<typeof PostgresConfigSchema>

export const EMBEDDED_URL = 'embedded:'

export function streamName (t: TableConfig): string {
  return t.stream ?? bareTableName(t.table)
}

/** Whether some table says how to mark a restriction: the connector then has capability `restrict`. */
export function hasRestrict (config: PostgresConfig): boolean {
  return config.datasets.some((d) => d.tables.some((t) => t.restrict !== undefined))
}

/** Whether some table says how to record an opt-out: the connector then has capability `opt_out`. */
export function hasOptOut (config: PostgresConfig): boolean {
  return config.datasets.some((d) => d.tables.some((t) => t.opt_out !== undefined))
}

/** Whether some table says which customer account a row belongs to: `identify` then reports accounts. */
export function hasAccounts (config: PostgresConfig): boolean {
  return config.datasets.some((d) => d.tables.some((t) => t.account !== undefined))
}

/** 'restrict' and 'opt_out' only where a table has that setting, 'retention' only with retention rules. */
export function capabilitiesFor (config: PostgresConfig, all: readonly Capability[]): Capability[] {
  return all.filter((c) => (c !== 'restrict' || hasRestrict(config)) && (c !== 'opt_out' || hasOptOut(config)) &&
    (c !== 'retention' || (config.retention?.length ?? 0) > 0))
}

export function streamsFor (config: PostgresConfig): StreamInfo[] {
  return config.datasets.flatMap((d) => d.tables.map((t) => {
    const rule = config.retention?.find((r) => r.table === t.table)
    return {
      name: streamName(t),
      description: t.description ?? `Rows of ${t.table}`,
      categories: t.categories ?? [],
      ...(rule
        ? { enforcedRetention: { maxAge: rule.max_age ?? `P${rule.max_age_days}D`, from: rule.column, action: rule.action === 'delete' ? 'delete' : 'null_columns' } as const }
        : {})
    }
  }))
}

function configError (message: string): ConnectorError {
  return new ConnectorError(ConnectorErrorCodes.Config, message, { retryable: false })
}

/**
 * What the schema cannot express: names unique, references inside their dataset, `system` on
 * external ids, a salt when hashing, primary keys left alone by updates. Column existence and
 * types are checked against the database on first use (catalog.ts).
 */
export function checkConfig (config: PostgresConfig): void {
  if (config.retention) checkRetention(config.retention)
  const streams = new Set<string>()
  const tables = new Set<string>()
  config.datasets.forEach((d, di) => {
    const inDataset = new Set(d.tables.map((t) => t.table))
    d.tables.forEach((t, ti) => {
      const at = `datasets/${di}/tables/${ti}`
      const stream = streamName(t)
      if (streams.has(stream)) throw configError(`${at}: stream "${stream}" is used twice; set a distinct "stream"`)
      streams.add(stream)
      if (tables.has(t.table)) throw configError(`${at}: table "${t.table}" is configured twice`)
      tables.add(t.table)
      if (t.account !== undefined && !t.identity?.length) throw configError(`${at}/account: only a table with "identity" columns says which account a row belongs to`)
      t.identity?.forEach((id, ii) => {
        if (id.kind === 'external_id' && !id.system) throw configError(`${at}/identity/${ii}: kind external_id needs "system"`)
        if (id.kind !== 'external_id' && id.system) throw configError(`${at}/identity/${ii}: "system" only applies to kind external_id`)
      })
      t.references?.forEach((r, ri) => {
        if (!inDataset.has(r.table)) throw configError(`${at}/references/${ri}: table "${r.table}" is not a table of dataset "${d.name}"`)
        if (r.table === t.table) throw configError(`${at}/references/${ri}: a table cannot reference itself`)
      })
      if (t.restrict) {
        const r = t.restrict
        const { value, lifted } = restrictMarks(r)
        if (t.primary_key.includes(r.column)) throw configError(`${at}/restrict/column: a primary key column cannot be the restriction mark`)
        if (r.since_column !== undefined && (r.since_column === r.column || t.primary_key.includes(r.since_column))) {
          throw configError(`${at}/restrict/since_column: must be a column of its own, not the mark or a primary key column`)
        }
        if (value === lifted) throw configError(`${at}/restrict: value and lifted must differ, or a lift could not be told from a restriction`)
      }
      if (t.opt_out) checkOptOut(t, `${at}/opt_out`)
      if (t.erase !== 'delete') {
        const cols = Object.entries(t.erase.columns)
        if (cols.length === 0) throw configError(`${at}/erase/columns: list at least one column (use strategy keep, with its reason, to keep a column)`)
        if (cols.some(([, c]) => c.strategy === 'hash') && !config.salt) throw configError(`${at}/erase: strategy hash needs "salt"`)
        for (const [name, c] of cols) {
          if (c.strategy !== 'keep' && t.primary_key.includes(name)) throw configError(`${at}/erase/columns/${name}: a primary key column cannot be erased; use "keep" or erase: delete`)
        }
      }
    })
  })
}

/**
 * An opt-out setting: each purpose its own column (so that stopping one never changes another's),
 * none of them a primary key or the restriction mark, and a value that differs from the opted-in one.
 */
function checkOptOut (t: TableConfig, at: string): void {
  const used = new Map<string, string>()
  const claim = (column: string, where: string) => {
    if (t.primary_key.includes(column)) throw configError(`${where}: "${column}" is a primary key column and cannot record an opt-out`)
    if (t.restrict && (column === t.restrict.column || column === t.restrict.since_column)) {
      throw configError(`${where}: "${column}" is the restriction's column; an opt-out needs a column of its own`)
    }
    const other = used.get(column)
    if (other) throw configError(`${where}: "${column}" is already used by ${other}; each purpose needs its own column`)
  }
  for (const [purpose, c] of optOutColumns(t.opt_out!)) {
    const where = `${at}/${purpose}`
    claim(c.column, `${where}/column`)
    used.set(c.column, purpose)
    if (c.opted_in !== undefined && c.opted_in === optOutValue(c)) {
      throw configError(`${where}: value and opted_in must differ, or an opt-out could not be told from consent`)
    }
    if (c.since_column !== undefined) {
      claim(c.since_column, `${where}/since_column`)
      used.set(c.since_column, `${purpose} (since_column)`)
    }
  }
}
