/**
 * SQL identifiers. Names from the connector file are checked against a strict pattern and
 * always double-quoted, so they are taken literally (case-sensitive): `Customers` is the table
 * created as `"Customers"`, and `customers` the one created unquoted. Names read from the
 * catalog (columns we did not configure) are quoted with `"` doubled, so any name is safe.
 */

/** A plain identifier: letters, digits and `_`, not starting with a digit, at most 63 bytes. */
export const IDENT_PATTERN = '^[A-Za-z_][A-Za-z0-9_]{0,62}$'
/** A table, optionally schema-qualified: `customers` or `sample_crm.customers`. */
export const TABLE_PATTERN = '^[A-Za-z_][A-Za-z0-9_]{0,62}(\\.[A-Za-z_][A-Za-z0-9_]{0,62})?$'

const IDENT = new RegExp(IDENT_PATTERN)
const TABLE = new RegExp(TABLE_PATTERN)

/** Quotes any identifier, doubling embedded quotes (PostgreSQL `quote_ident`). */
export function quoteIdent (name: string): string {
  if (name.length === 0 || name.includes('\0')) throw new TypeError('invalid identifier')
  return `"${name.replaceAll('"', '""')}"`
}

/** Quotes a configured column name, refusing anything that is not a plain identifier. */
export function quoteColumn (name: string): string {
  if (!IDENT.test(name)) throw new TypeError(`invalid column name "${name}"`)
  return quoteIdent(name)
}

/** Quotes a configured table name (`schema.table` or `table`), refusing anything else. */
export function quoteTable (name: string): string {
  if (!TABLE.test(name)) throw new TypeError(`invalid table name "${name}"`)
  return name.split('.').map(quoteIdent).join('.')
}

/** The table's name without its schema: the default stream name. */
export function bareTableName (name: string): string {
  const dot = name.lastIndexOf('.')
  return dot === -1 ? name : name.slice(dot + 1)
}
