import { ConnectorError, ConnectorErrorCodes, type CollectedItem, type ConnectorContext } from '../types.js'
import { streamName } from './config.js'
import { toConnectorError } from './errors.js'
import { newParams, predicate, selectStatement, type Model } from './plan.js'
import type { SqlClient } from './sql-client.js'

/** Rows per cursor fetch: what is held in memory at once, per table. */
export const BATCH_SIZE = 500

export interface RunDeps {
  db: SqlClient
  model: (signal: AbortSignal) => Promise<Model>
}

/** Tables probed together in one round trip, at most. */
const PROBED_AT_ONCE = 8

/**
 * Streams the subject's rows, table by table in config order. Tables nothing can identify are
 * not queried. The tables are first probed together, a few at a time in one round trip, each
 * for at most BATCH_SIZE + 1 rows: a table whose probe comes back with BATCH_SIZE rows or fewer
 * is served from it (the common case: a person has few rows in each table). A larger one is
 * read again through a server-side cursor, the next batch fetched only when the previous one
 * has been consumed, so memory stays bounded whatever the number of rows. Either way a table's
 * rows come from one statement, as before.
 */
export async function * collectRows (deps: RunDeps, ctx: ConnectorContext): AsyncGenerator<CollectedItem> {
  const { signal, log } = ctx
  let context = 'collect'
  try {
    const model = await deps.model(signal)
    const reads: Array<{ stream: string, text: string, keyAlias: string, params: unknown[] }> = []
    for (const table of model.config.datasets.flatMap((d) => d.tables)) {
      const params = newParams()
      const where = predicate(model, table, ctx.subject, params, ctx.accounts)
      if (where === null) continue
      reads.push({ stream: streamName(table), ...selectStatement(model, table, where), params: params.values })
    }
    for (let i = 0; i < reads.length; i += PROBED_AT_ONCE) {
      const group = reads.slice(i, i + PROBED_AT_ONCE)
      context = `collect ${group.map((r) => r.stream).join(', ')}`
      abortCheck(signal, context)
      const probes = await deps.db.many(group.map((r) => ({ text: `${r.text} LIMIT ${BATCH_SIZE + 1}`, params: r.params })), { signal })
      for (const [j, read] of group.entries()) {
        const { stream, keyAlias } = read
        context = `collect ${stream}`
        const probed = probes[j]!.rows
        const batches = probed.length <= BATCH_SIZE ? [probed] : deps.db.cursor(read.text, read.params, BATCH_SIZE, { signal })
        let records = 0
        for await (const batch of batches) {
          for (const row of batch) {
            const key = String(row[keyAlias])
            delete row[keyAlias]
            records++
            yield { type: 'record', stream, key, data: jsonSafe(row) }
          }
          abortCheck(signal, context)
        }
        log.debug({ stream, records }, 'collected stream')
      }
    }
  } catch (err) {
    throw toConnectorError(err, context, signal)
  }
}

export function abortCheck (signal: AbortSignal, context: string): void {
  if (signal.aborted) throw new ConnectorError(ConnectorErrorCodes.Timeout, `${context}: aborted`, { retryable: true })
}

/**
 * Values as both drivers agree and JSON can carry: bytea as `\x…` hex (PostgreSQL's own text
 * form), bigint as a string. Dates, numbers, strings and parsed json stay as they are.
 */
function jsonSafe (row: Record<string, unknown>): Record<string, unknown> {
  for (const [k, v] of Object.entries(row)) {
    if (v instanceof Uint8Array) row[k] = `\\x${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}`
    else if (typeof v === 'bigint') row[k] = v.toString()
  }
  return row
}
