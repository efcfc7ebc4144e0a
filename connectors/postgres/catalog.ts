import { ConnectorError, ConnectorErrorCodes } from '../types.js'
import { optOutColumns, optOutValue, restrictMarks, type PostgresConfig, type TableConfig } from './config.js'
import { quoteTable } from './identifiers.js'
import type { SqlQueryable } from './sql-client.js'

export interface ColumnInfo {
  name: string
  /** As `format_type` prints it, e.g. `character varying(50)`. */
  type: string
  /** The type's name, or its base type's for a domain: int4, text, uuid… */
  base: string
  /** pg_type.typcategory: S string, N numeric, B boolean, D date/time, U user (uuid)… */
  category: string
  notNull: boolean
  maxLength: number | null
}

export interface TableInfo {
  oid: string
  /** In table order. */
  columns: Map<string, ColumnInfo>
}

export interface Catalog {
  /** By configured table name. */
  tables: Map<string, TableInfo>
  /** Foreign keys between configured tables: `child` references `parent`. */
  foreignKeys: Array<{ child: string, parent: string, name: string }>
}

const COLUMNS_SQL = `
select c.oid::text as oid, a.attname as name, format_type(a.atttypid, a.atttypmod) as type,
       coalesce(b.typname, t.typname)::text as base, t.typcategory::text as category,
       a.attnotnull as not_null,
       case when coalesce(b.oid, t.oid) in (1042, 1043) and a.atttypmod > 0 then a.atttypmod - 4 end as max_length
  from pg_class c
  join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
  join pg_type t on t.oid = a.atttypid
  left join pg_type b on t.typtype = 'd' and b.oid = t.typbasetype
 where c.oid = to_regclass($1) and c.relkind in ('r', 'p', 'v', 'm', 'f')
 order by a.attnum`

const FOREIGN_KEYS_SQL = `
select conrelid::text as child, confrelid::text as parent, conname::text as name
  from pg_constraint
 where contype = 'f' and conrelid = any($1::oid[]) and confrelid = any($1::oid[]) and conrelid <> confrelid`

interface ColumnRow { oid: string, name: string, type: string, base: string, category: string, not_null: boolean, max_length: number | null }

/** Reads the configured tables' columns and the foreign keys between them. */
export async function loadCatalog (db: SqlQueryable, config: PostgresConfig, signal?: AbortSignal): Promise<Catalog> {
  const tables = new Map<string, TableInfo>()
  for (const name of config.datasets.flatMap((d) => d.tables.map((t) => t.table))) {
    const { rows } = await db.query<ColumnRow>(COLUMNS_SQL, [quoteTable(name)], { signal })
    const first = rows[0]
    if (!first) throw configError(`table "${name}" does not exist or is not visible to this user`)
    tables.set(name, {
      oid: first.oid,
      columns: new Map(rows.map((r) => [r.name, {
        name: r.name, type: r.type, base: r.base, category: r.category, notNull: r.not_null, maxLength: r.max_length === null ? null : Number(r.max_length)
      }]))
    })
  }
  const byOid = new Map([...tables].map(([name, t]) => [t.oid, name]))
  const oids = `{${[...byOid.keys()].join(',')}}`
  const { rows } = await db.query<{ child: string, parent: string, name: string }>(FOREIGN_KEYS_SQL, [oids], { signal })
  const foreignKeys = rows.flatMap((r) => {
    const child = byOid.get(r.child)
    const parent = byOid.get(r.parent)
    return child && parent ? [{ child, parent, name: r.name }] : []
  })
  return { tables, foreignKeys }
}

/**
 * Every configured column exists and suits its use. Throws a permanent DSR_CONNECTOR_CONFIG
 * naming the place in the config, so a typo fails on first use rather than mid-erasure.
 */
export function checkAgainstCatalog (config: PostgresConfig, catalog: Catalog): void {
  config.datasets.forEach((d, di) => d.tables.forEach((t, ti) => {
    checkTable(t, `datasets/${di}/tables/${ti} (${t.table})`, catalog)
  }))
}

function checkTable (t: TableConfig, at: string, catalog: Catalog): void {
  const info = catalog.tables.get(t.table)
  if (!info) throw configError(`${at}: table not found`)
  const column = (name: string, where: string, table = t.table): ColumnInfo => {
    const c = catalog.tables.get(table)?.columns.get(name)
    if (!c) throw configError(`${at}/${where}: column "${name}" does not exist in ${table}`)
    return c
  }
  t.primary_key.forEach((c, i) => column(c, `primary_key/${i}`))
  t.exclude_columns?.forEach((c, i) => column(c, `exclude_columns/${i}`))
  t.identity?.forEach((id, i) => {
    const c = column(id.column, `identity/${i}`)
    if (id.case_insensitive && c.category !== 'S') throw configError(`${at}/identity/${i}: case_insensitive needs a text column, "${c.name}" is ${c.type}`)
  })
  t.references?.forEach((r, i) => {
    column(r.column, `references/${i}`)
    column(r.to, `references/${i}/to`, r.table)
  })
  if (t.erase === 'delete') return
  for (const [name, rule] of Object.entries(t.erase.columns)) {
    const c = column(name, `erase/columns/${name}`)
    const where = `${at}/erase/columns/${name}`
    if (rule.strategy === 'null' && c.notNull) throw configError(`${where}: strategy null on a NOT NULL column`)
    if (rule.strategy === 'hash' && c.category !== 'S') throw configError(`${where}: strategy hash needs a text column, "${name}" is ${c.type}`)
    if (rule.strategy === 'hash' && c.maxLength !== null && c.maxLength < 64) throw configError(`${where}: strategy hash writes 64 characters, "${name}" is ${c.type}`)
    if (rule.strategy === 'fixed' && typeof rule.value === 'boolean' && c.category !== 'B' && c.category !== 'S') throw configError(`${where}: a boolean value for a ${c.type} column`)
    if (rule.strategy === 'fixed' && typeof rule.value !== 'boolean' && c.base === 'bool') throw configError(`${where}: a boolean column needs value true or false`)
    if (rule.strategy === 'fixed' && typeof rule.value === 'number' && c.category !== 'N' && c.category !== 'S') throw configError(`${where}: a number value for a ${c.type} column`)
  }
}

/**
 * The `restrict` settings suit their columns. Checked when a restriction is first placed or lifted,
 * not with the rest of the config: a database that lacks the mark column (a sample database created
 * before it was added, say) fails its restrict tasks with the column named, and still collects and erases.
 */
export function checkRestrictAgainstCatalog (config: PostgresConfig, catalog: Catalog): void {
  config.datasets.forEach((d, di) => d.tables.forEach((t, ti) => {
    if (!t.restrict) return
    const at = `datasets/${di}/tables/${ti} (${t.table})/restrict`
    const columns = catalog.tables.get(t.table)?.columns
    const column = (name: string, where: string): ColumnInfo => {
      const c = columns?.get(name)
      if (!c) throw configError(`${at}/${where}: column "${name}" does not exist in ${t.table}`)
      return c
    }
    const mark = column(t.restrict.column, 'column')
    const { value, lifted } = restrictMarks(t.restrict)
    for (const [where, v] of [['value', value], ['lifted', lifted]] as const) {
      if (v === null) {
        if (mark.notNull) throw configError(`${at}/${where}: null on a NOT NULL column "${mark.name}"`)
        continue
      }
      if (mark.base === 'bool' && typeof v !== 'boolean') throw configError(`${at}/${where}: a boolean column needs true or false`)
      if (typeof v === 'boolean' && mark.category !== 'B' && mark.category !== 'S') throw configError(`${at}/${where}: a boolean value for a ${mark.type} column`)
      if (typeof v === 'number' && mark.category !== 'N' && mark.category !== 'S') throw configError(`${at}/${where}: a number value for a ${mark.type} column`)
    }
    if (t.restrict.since_column !== undefined) {
      const since = column(t.restrict.since_column, 'since_column')
      if (since.category !== 'D') throw configError(`${at}/since_column: needs a timestamp column, "${since.name}" is ${since.type}`)
      if (since.notNull) throw configError(`${at}/since_column: "${since.name}" is NOT NULL, and a lift sets it to null`)
    }
  }))
}

/** Each opt-out column exists, takes its value (null only where nullable), and each since_column is a timestamp. */
export function checkOptOutAgainstCatalog (config: PostgresConfig, catalog: Catalog): void {
  config.datasets.forEach((d, di) => d.tables.forEach((t, ti) => {
    if (!t.opt_out) return
    const columns = catalog.tables.get(t.table)?.columns
    for (const [purpose, c] of optOutColumns(t.opt_out)) {
      const at = `datasets/${di}/tables/${ti} (${t.table})/opt_out/${purpose}`
      const column = (name: string, where: string): ColumnInfo => {
        const info = columns?.get(name)
        if (!info) throw configError(`${at}/${where}: column "${name}" does not exist in ${t.table}`)
        return info
      }
      const mark = column(c.column, 'column')
      for (const [where, v] of [['value', optOutValue(c)], ['opted_in', c.opted_in]] as const) {
        if (v === undefined) continue
        if (v === null) {
          if (mark.notNull) throw configError(`${at}/${where}: null on a NOT NULL column "${mark.name}"`)
          continue
        }
        if (mark.base === 'bool' && typeof v !== 'boolean') throw configError(`${at}/${where}: a boolean column needs true or false`)
        if (typeof v === 'boolean' && mark.category !== 'B' && mark.category !== 'S') throw configError(`${at}/${where}: a boolean value for a ${mark.type} column`)
        if (typeof v === 'number' && mark.category !== 'N' && mark.category !== 'S') throw configError(`${at}/${where}: a number value for a ${mark.type} column`)
      }
      if (c.since_column !== undefined) {
        const since = column(c.since_column, 'since_column')
        if (since.category !== 'D') throw configError(`${at}/since_column: needs a timestamp column, "${since.name}" is ${since.type}`)
      }
    }
  }))
}

function configError (message: string): ConnectorError {
  return new ConnectorError(ConnectorErrorCodes.Config, message, { retryable: false })
}
