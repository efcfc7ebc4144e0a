import type { ConnectorContext, EraseOutcome } from '../types.js'
import { streamName, type TableConfig } from './config.js'
import { abortCheck, type RunDeps } from './collect.js'
import { toConnectorError } from './errors.js'
import { deleteStatement, eraseOrder, keepReasons, newParams, predicate, updateStatement, type Model } from './plan.js'
import type { SqlQueryable } from './sql-client.js'
import { quoteTable } from './identifiers.js'

/** How long a statement waits for a row lock held by the application before giving up (retryable). */
export const LOCK_TIMEOUT = '30s'

/**
 * Erases the subject dataset by dataset, each in one transaction, tables children-first so no
 * foreign key is violated and every child's predicate can still reach its parents. Outcomes
 * are yielded after the commit: nothing is reported that could still roll back.
 */
export async function * eraseRows (deps: RunDeps, ctx: ConnectorContext): AsyncGenerator<EraseOutcome> {
  const { signal, log } = ctx
  let context = 'erase'
  try {
    const model = await deps.model(signal)
    for (const dataset of model.config.datasets) {
      context = `erase dataset ${dataset.name}`
      const steps = planSteps(model, dataset, ctx)
      if (steps.length === 0) continue
      abortCheck(signal, context)
      const outcomes = await deps.db.transaction(async (tx) => {
        await tx.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`, [], { signal })
        const out: EraseOutcome[] = []
        for (const step of steps) {
          abortCheck(signal, `erase ${step.stream}`)
          context = `erase ${step.stream}`
          out.push(...await step.run(tx, signal))
        }
        return out
      })
      context = `erase dataset ${dataset.name}`
      for (const o of outcomes) {
        log.debug({ stream: o.stream, status: o.status, ...(o.status === 'erased' ? { count: o.count } : {}) }, 'erase outcome')
        yield o
      }
    }
  } catch (err) {
    throw toConnectorError(err, context, signal)
  }
}

export interface Step {
  stream: string
  run (tx: SqlQueryable, signal: AbortSignal): Promise<EraseOutcome[]>
  /** For a table whose rows are kept with columns erased: counts the subject's rows (a preview's `retain`). */
  countKept? (tx: SqlQueryable, signal: AbortSignal): Promise<number>
}

/** The dataset's erase steps, children first; tables nothing identifies the subject in are left out. */
export function planSteps (model: Model, dataset: Model['config']['datasets'][number], ctx: ConnectorContext): Step[] {
  const { order, cyclic } = eraseOrder(dataset.tables, model.catalog)
  if (cyclic) ctx.log.warn({ dataset: dataset.name }, 'reference cycle between tables: erase order falls back to config order')
  return order.flatMap((table) => {
    const step = planStep(model, table, ctx)
    return step ? [step] : []
  })
}

function planStep (model: Model, table: TableConfig, ctx: ConnectorContext): Step | null {
  const stream = streamName(table)
  const params = newParams()
  const where = predicate(model, table, ctx.subject, params)
  if (where === null) return null
  if (table.erase === 'delete') {
    const text = deleteStatement(table, where)
    return {
      stream,
      async run (tx, signal) {
        const { count } = await tx.query(text, params.values, { signal })
        return [count > 0 ? { status: 'erased', stream, count } : { status: 'not_found', stream }]
      }
    }
  }
  const text = updateStatement(model, table, where, params)
  const reasons = keepReasons(table)
  return {
    stream,
    async countKept (tx, signal) {
      const { rows } = await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${quoteTable(table.table)} AS t0 WHERE ${where}`, params.values, { signal })
      return Number(rows[0]?.n ?? 0)
    },
    async run (tx, signal) {
      const { rows } = await tx.query<{ changed: number, matched: boolean }>(text, params.values, { signal })
      const changed = Number(rows[0]?.changed ?? 0)
      const out: EraseOutcome[] = [changed > 0 ? { status: 'erased', stream, count: changed } : { status: 'not_found', stream }]
      if (rows[0]?.matched) for (const reason of reasons) out.push({ status: 'retained', stream, reason })
      return out
    }
  }
}
