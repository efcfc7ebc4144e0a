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

/**
 * Streams the subject's rows, table by table in config order, through a server-side cursor:
 * the next batch is fetched only when the previous one has been consumed, so memory stays
 * bounded whatever the number of rows. Tables nothing can identify are not queried.
 */
export async function * collectRows (deps: RunDeps, ctx: ConnectorContext): AsyncGenerator<CollectedItem> {
  const { signal, log } = ctx
  let context = 'collect'
  try {
    const model = await deps.model(signal)
    for (const table of model.config.datasets.flatMap((d) => d.tables)) {
      const stream = streamName(table)
      context = `collect ${stream}`
      const params = newParams()
      const where = predicate(model, table, ctx.subject, params)
      if (where === null) continue
      abortCheck(signal, context)
      const { text, keyAlias } = selectStatement(model, table, where)
      let records = 0
      for await (const batch of deps.db.cursor(text, params.values, BATCH_SIZE, { signal })) {
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
