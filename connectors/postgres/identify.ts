import type { ConnectorContext, FoundIdentity, SubjectIdentity } from '../types.js'
import { streamName, type TableConfig } from './config.js'
import { abortCheck, type RunDeps } from './collect.js'
import { toConnectorError } from './errors.js'
import { quoteColumn, quoteTable } from './identifiers.js'
import { newParams, predicate } from './plan.js'

/** Records read per table, at most: enough to tell one person from several. */
export const IDENTIFY_LIMIT = 20

/**
 * The identity columns of the rows that match the subject by an identity column of their own
 * (rows reached only through a reference are someone else's record pointing at the person, such
 * as the addresses a result was sent to, and are left out). One read per table with identity
 * columns, all in one round trip; nothing is changed. A table with an `account` column says which
 * customer account each row belongs to.
 */
export async function identifyRows (deps: RunDeps, ctx: ConnectorContext): Promise<FoundIdentity[]> {
  const { signal } = ctx
  try {
    const model = await deps.model(signal)
    const reads: Array<{ table: TableConfig, text: string, params: unknown[] }> = []
    for (const table of model.config.datasets.flatMap((d) => d.tables)) {
      if (!table.identity?.length) continue
      const params = newParams()
      const where = predicate(model, { ...table, references: [] }, ctx.subject, params)
      if (where === null) continue
      const columns = table.identity.map((id, i) => `t0.${quoteColumn(id.column)}::text AS "c${i}"`)
      if (table.account !== undefined) columns.push(`t0.${quoteColumn(table.account)}::text AS "account"`)
      reads.push({ table, text: `SELECT ${columns.join(', ')} FROM ${quoteTable(table.table)} AS t0 WHERE ${where} LIMIT ${IDENTIFY_LIMIT}`, params: params.values })
    }
    if (reads.length === 0) return []
    abortCheck(signal, 'identify')
    const results = await deps.db.many(reads.map((r) => ({ text: r.text, params: r.params })), { signal })
    return reads.flatMap((read, i) => results[i]!.rows.map((row) => ({
      stream: streamName(read.table),
      identifiers: identifiersOf(read.table, row),
      ...(typeof row.account === 'string' && row.account !== '' ? { account: row.account } : {})
    })))
  } catch (err) {
    throw toConnectorError(err, 'identify', signal)
  }
}

/** A row's identity columns as subject identifiers (kinds the subject has one of keep the first). */
function identifiersOf (table: TableConfig, row: Record<string, unknown>): SubjectIdentity {
  const found: SubjectIdentity = {}
  table.identity!.forEach((id, i) => {
    const value = row[`c${i}`]
    if (typeof value !== 'string' || value === '') return
    if (id.kind === 'external_id') (found.external_ids ??= []).push({ system: id.system!, id: value })
    else found[id.kind] ??= id.case_insensitive || id.kind === 'email' ? value.toLowerCase() : value
  })
  return found
}
