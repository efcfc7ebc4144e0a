import type { AccountScope, SubjectIdentity } from '../types.js'
import type { Catalog, ColumnInfo } from './catalog.js'
import { optOutColumns, optOutValue, restrictMarks, type PostgresConfig, type TableConfig } from './config.js'
import type { OptOutPurposeName } from '../types.js'
import { quoteColumn, quoteIdent, quoteTable } from './identifiers.js'

/**
 * SQL planning: one WHERE predicate per table that matches exactly the subject's rows, and the
 * statements built on it. Every value is a positional parameter; every name is a checked,
 * quoted identifier. Nothing here touches the database.
 */

/** The config with its catalog, as the planner needs it. */
export interface Model {
  config: PostgresConfig
  catalog: Catalog
  /** By configured table name. */
  tables: Map<string, TableConfig>
}

export function buildModel (config: PostgresConfig, catalog: Catalog): Model {
  return { config, catalog, tables: new Map(config.datasets.flatMap((d) => d.tables.map((t) => [t.table, t]))) }
}

/** Positional parameters for one statement. */
export interface Params {
  values: unknown[]
  add (value: unknown): string
}

export function newParams (): Params {
  const values: unknown[] = []
  return { values, add: (v) => `$${values.push(v)}` }
}

type Identity = NonNullable<TableConfig['identity']>[number]

/** The subject's values for one identity column; empty when the subject has none. */
export function identityValues (id: Identity, subject: SubjectIdentity): string[] {
  const raw = id.kind === 'external_id'
    ? (subject.external_ids ?? []).filter((e) => e.system === id.system).map((e) => e.id)
    : [subject[id.kind]]
  const values = raw.filter((v): v is string => typeof v === 'string' && v !== '').map((v) => id.case_insensitive ? v.toLowerCase() : v)
  return [...new Set(values)]
}

const INT_RANGE: Record<string, bigint> = { int2: 32767n, int4: 2147483647n, int8: 9223372036854775807n }
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/
const UUID = /^\{?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\}?$/i

/**
 * Whether a subject value can equal anything in the column. A value that is not even of the
 * column's type (`cus_123` against an integer id) matches nothing, so it is left out rather
 * than sent to fail the whole statement with 22P02.
 */
export function fitsColumn (value: string, column: ColumnInfo | undefined): boolean {
  if (!column) return true
  const max = INT_RANGE[column.base]
  if (max !== undefined) {
    if (!/^[+-]?\d{1,19}$/.test(value)) return false
    const n = BigInt(value)
    return n <= max && n >= -max - 1n
  }
  if (column.base === 'numeric' || column.base === 'float4' || column.base === 'float8') return NUMBER.test(value)
  if (column.base === 'uuid') return UUID.test(value)
  return true
}

/**
 * The predicate (on alias `t<depth>`) matching the subject's rows in `table`, or null when
 * nothing can identify them. A row matches when one of its identity columns holds a subject
 * identifier, or one of its references points at a parent row that matches (recursively).
 * A table already on the path is not entered again, which ends reference cycles.
 */
export function predicate (model: Model, table: TableConfig, subject: SubjectIdentity, params: Params, accounts?: AccountScope, depth = 0, path: ReadonlySet<string> = new Set()): string | null {
  if (path.has(table.table)) return null
  const alias = `t${depth}`
  const columns = model.catalog.tables.get(table.table)?.columns
  const conditions: string[] = []
  for (const id of table.identity ?? []) {
    const values = identityValues(id, subject).filter((v) => fitsColumn(v, columns?.get(id.column)))
    if (values.length === 0) continue
    const col = `${alias}.${quoteColumn(id.column)}`
    const lhs = id.case_insensitive ? `lower(${col})` : col
    const placeholders = values.map((v) => params.add(v))
    conditions.push(placeholders.length === 1 ? `${lhs} = ${placeholders[0]}` : `${lhs} IN (${placeholders.join(', ')})`)
  }
  const inner = new Set(path).add(table.table)
  for (const ref of table.references ?? []) {
    const parent = model.tables.get(ref.table)
    if (!parent) continue
    const parentPredicate = predicate(model, parent, subject, params, accounts, depth + 1, inner)
    if (parentPredicate === null) continue
    const p = `t${depth + 1}`
    conditions.push(`${alias}.${quoteColumn(ref.column)} IN (SELECT ${p}.${quoteColumn(ref.to)} FROM ${quoteTable(parent.table)} AS ${p} WHERE ${parentPredicate})`)
  }
  if (conditions.length === 0) return null
  const matches = conditions.length === 1 ? conditions[0]! : `(${conditions.join(' OR ')})`
  const scoped = accountCondition(table, alias, accounts, params)
  return scoped === null ? matches : `(${matches} AND ${scoped})`
}

/**
 * The rows of `table` inside the account scope (a table with an `account` column): those of the
 * accounts named (`only`), or those of no account or of an account not excluded (`except`). Null
 * when the table has no account column or there is no scope: rows reached through a reference
 * follow the account of the row they reach.
 */
function accountCondition (table: TableConfig, alias: string, accounts: AccountScope | undefined, params: Params): string | null {
  if (table.account === undefined || accounts === undefined) return null
  const col = `${alias}.${quoteColumn(table.account)}::text`
  if ('only' in accounts) {
    return accounts.only.length === 0 ? 'false' : `${col} IN (${accounts.only.map((a) => params.add(a)).join(', ')})`
  }
  return accounts.except.length === 0 ? null : `(${col} IS NULL OR ${col} NOT IN (${accounts.except.map((a) => params.add(a)).join(', ')}))`
}

/** A SELECT of the collected columns plus the row key, computed by the server as text. */
export function selectStatement (model: Model, table: TableConfig, where: string): { text: string, keyAlias: string } {
  const info = model.catalog.tables.get(table.table)
  const names = info ? [...info.columns.keys()] : []
  const excluded = new Set(table.exclude_columns ?? [])
  let keyAlias = 'dsr_key'
  while (names.includes(keyAlias)) keyAlias = `_${keyAlias}`
  const columns = names.filter((n) => !excluded.has(n)).map((n) => `t0.${quoteIdent(n)}`)
  const key = `concat_ws(':', ${table.primary_key.map((c) => `t0.${quoteColumn(c)}::text`).join(', ')})`
  return { text: `SELECT ${[...columns, `${key} AS ${quoteIdent(keyAlias)}`].join(', ')} FROM ${quoteTable(table.table)} AS t0 WHERE ${where}`, keyAlias }
}

export function deleteStatement (table: TableConfig, where: string): string {
  return `DELETE FROM ${quoteTable(table.table)} AS t0 WHERE ${where}`
}

/** Why a table's columns are kept: the reason, with its ground code and review period where given. */
export interface KeepReason { reason: string, ground?: string, review?: string }

/** Keep reasons, once each (by reason, ground and review), in config order. */
export function keepReasons (table: TableConfig): KeepReason[] {
  if (table.erase === 'delete') return []
  const seen = new Map<string, KeepReason>()
  for (const c of Object.values(table.erase.columns)) {
    if (c.strategy !== 'keep') continue
    const keep: KeepReason = { reason: c.reason, ...(c.ground ? { ground: c.ground } : {}), ...(c.review ? { review: c.review } : {}) }
    seen.set(JSON.stringify([keep.reason, keep.ground, keep.review]), keep)
  }
  return [...seen.values()]
}

/**
 * An UPDATE applying the column strategies, returning `changed` (rows updated) and `matched`
 * (whether the subject had rows before it ran, for `retained`). Rows whose erased columns are
 * already in their erased form are skipped, so a re-run changes nothing and counts zero: null
 * columns null, fixed columns equal to their value, hashed columns null or 64 hex digits.
 */
export function updateStatement (model: Model, table: TableConfig, where: string, params: Params): string {
  if (table.erase === 'delete') throw new TypeError('not an update table')
  const columns = model.catalog.tables.get(table.table)?.columns
  const t = quoteTable(table.table)
  const sets: string[] = []
  const done: string[] = []
  for (const [name, rule] of Object.entries(table.erase.columns)) {
    const col = quoteColumn(name)
    if (rule.strategy === 'null') {
      sets.push(`${col} = NULL`)
      done.push(`t0.${col} IS NULL`)
    } else if (rule.strategy === 'fixed') {
      // postgres.js serializes a boolean column's parameter as `x === true`: send a real boolean there.
      const p = params.add(columns?.get(name)?.base === 'bool' ? rule.value === true : String(rule.value))
      sets.push(`${col} = ${p}`)
      done.push(`t0.${col} IS NOT DISTINCT FROM ${p}`)
    } else if (rule.strategy === 'hash') {
      const p = params.add(model.config.salt ?? '')
      sets.push(`${col} = encode(sha256(convert_to(t0.${col}::text || ${p}, 'UTF8')), 'hex')`)
      done.push(`(t0.${col} IS NULL OR t0.${col}::text ~ '^[0-9a-f]{64}$')`)
    }
  }
  const matched = `EXISTS (SELECT 1 FROM ${t} AS t0 WHERE ${where})`
  if (sets.length === 0) return `SELECT 0 AS changed, ${matched} AS matched`
  const update = `UPDATE ${t} AS t0 SET ${sets.join(', ')} WHERE ${where} AND NOT (${done.join(' AND ')}) RETURNING 1`
  return `WITH changed AS (${update}) SELECT (SELECT count(*) FROM changed)::int AS changed, ${matched} AS matched`
}

/**
 * An UPDATE placing (`restrict`) or lifting (`unrestrict`) the table's restriction mark on the
 * subject's rows, returning `changed` (rows whose mark changed) and `matched` (whether the subject
 * has rows there at all). Placing skips rows already marked, so a re-run counts zero and keeps the
 * original `since_column` time; lifting touches only rows carrying the mark, and clears that time.
 */
export function restrictStatement (model: Model, table: TableConfig, where: string, params: Params, direction: 'restrict' | 'unrestrict'): string {
  if (!table.restrict) throw new TypeError('table has no restrict setting')
  const column = model.catalog.tables.get(table.table)?.columns.get(table.restrict.column)
  const { value, lifted } = restrictMarks(table.restrict)
  // As for fixed values: postgres.js serializes a boolean column's parameter as `x === true`.
  const param = (v: string | number | boolean | null) => v === null ? null : column?.base === 'bool' ? v === true : String(v)
  const t = quoteTable(table.table)
  const col = quoteColumn(table.restrict.column)
  const marked = params.add(param(value))
  const sets = direction === 'restrict' ? [`${col} = ${marked}`] : [`${col} = ${params.add(param(lifted))}`]
  if (table.restrict.since_column !== undefined) sets.push(`${quoteColumn(table.restrict.since_column)} = ${direction === 'restrict' ? 'now()' : 'NULL'}`)
  const only = direction === 'restrict' ? `t0.${col} IS DISTINCT FROM ${marked}` : `t0.${col} IS NOT DISTINCT FROM ${marked}`
  const update = `UPDATE ${t} AS t0 SET ${sets.join(', ')} WHERE ${where} AND ${only} RETURNING 1`
  return `WITH changed AS (${update}) SELECT (SELECT count(*) FROM changed)::int AS changed, EXISTS (SELECT 1 FROM ${t} AS t0 WHERE ${where}) AS matched`
}

/**
 * An UPDATE recording the subject's opt-out of `purposes` in `table`: each asked purpose's column is
 * set to its value (its `since_column` to now() where that column changes), on rows where one of
 * them still differs; columns of other purposes are not named, so they never change. Returns
 * `changed` (rows updated; 0 on a re-run) and `matched` (whether the subject has rows there at all).
 * Null when the table records none of the purposes.
 */
export function optOutStatement (model: Model, table: TableConfig, where: string, params: Params, purposes: readonly OptOutPurposeName[]): string | null {
  const columns = model.catalog.tables.get(table.table)?.columns
  const asked = optOutColumns(table.opt_out ?? {}).filter(([p]) => purposes.includes(p))
  if (asked.length === 0) return null
  const t = quoteTable(table.table)
  const sets: string[] = []
  const pending: string[] = []
  for (const [, c] of asked) {
    const value = optOutValue(c)
    // As for fixed values: postgres.js serializes a boolean column's parameter as `x === true`.
    const p = params.add(value === null ? null : columns?.get(c.column)?.base === 'bool' ? value === true : String(value))
    const col = quoteColumn(c.column)
    const differs = `t0.${col} IS DISTINCT FROM ${p}`
    sets.push(`${col} = ${p}`)
    if (c.since_column !== undefined) {
      const since = quoteColumn(c.since_column)
      sets.push(`${since} = CASE WHEN ${differs} THEN now() ELSE t0.${since} END`)
    }
    pending.push(differs)
  }
  const update = `UPDATE ${t} AS t0 SET ${sets.join(', ')} WHERE ${where} AND (${pending.join(' OR ')}) RETURNING 1`
  return `WITH changed AS (${update}) SELECT (SELECT count(*) FROM changed)::int AS changed, EXISTS (SELECT 1 FROM ${t} AS t0 WHERE ${where}) AS matched`
}

/**
 * The dataset's tables, children before parents, from the declared references and the
 * database's foreign keys. Ties keep config order. On a cycle the remaining tables follow in
 * config order and `cyclic` is set.
 */
export function eraseOrder (tables: readonly TableConfig[], catalog: Catalog): { order: TableConfig[], cyclic: boolean } {
  const names = new Set(tables.map((t) => t.table))
  const children = new Map<string, Set<string>>(tables.map((t) => [t.table, new Set()]))
  const edge = (child: string, parent: string) => {
    if (child !== parent && names.has(child) && names.has(parent)) children.get(parent)!.add(child)
  }
  for (const t of tables) for (const r of t.references ?? []) edge(t.table, r.table)
  for (const fk of catalog.foreignKeys) edge(fk.child, fk.parent)

  const order: TableConfig[] = []
  const placed = new Set<string>()
  let cyclic = false
  while (order.length < tables.length) {
    const remaining = tables.filter((t) => !placed.has(t.table))
    const next = remaining.find((t) => [...children.get(t.table)!].every((c) => placed.has(c)))
    if (!next) cyclic = true
    const pick = next ?? remaining[0]!
    order.push(pick)
    placed.add(pick.table)
  }
  return { order, cyclic }
}
