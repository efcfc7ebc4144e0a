import type { ConnectorContext, EraseOutcome, RetainedStream } from '../types.js'
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
  const held = heldTables(model, dataset.tables, ctx.retain ?? [])
  return order.flatMap((table) => {
    const step = planStep(model, table, ctx, held.get(table.table))
    return step ? [step] : []
  })
}

/**
 * The dataset's tables an erasure keeps for a legal hold, each with what to report: the held
 * streams, and every table a held one refers to (declared references and foreign keys, up the
 * chain), since a kept row must keep the rows it points at (a delete would fail, or cascade into
 * the held rows). Tables referring to a held one are erased as usual: their rows go first.
 */
export function heldTables (model: Model, tables: readonly TableConfig[], retain: readonly RetainedStream[]): Map<string, RetainedStream[]> {
  const held = new Map<string, RetainedStream[]>()
  if (retain.length === 0) return held
  const inDataset = new Map(tables.map((t) => [t.table, t]))
  const parentsOf = (t: TableConfig) => [...new Set([
    ...(t.references ?? []).map((r) => r.table),
    ...model.catalog.foreignKeys.filter((fk) => fk.child === t.table).map((fk) => fk.parent)
  ])].filter((p) => p !== t.table && inDataset.has(p))
  const add = (table: TableConfig, entries: RetainedStream[]) => {
    const list = held.get(table.table) ?? []
    const fresh = entries.filter((e) => !list.some((l) => l.reason === e.reason))
    if (fresh.length === 0) return
    held.set(table.table, [...list, ...fresh])
    for (const parent of parentsOf(table)) {
      const p = inDataset.get(parent)!
      add(p, fresh.map((e) => ({ ...e, stream: streamName(p), reason: `${e.reason}; kept because held records of ${streamName(table)} refer to it` })))
    }
  }
  for (const table of tables) {
    const stream = streamName(table)
    const entries = retain.filter((r) => r.stream === stream)
    if (entries.length > 0) add(table, entries)
  }
  return held
}

function planStep (model: Model, table: TableConfig, ctx: ConnectorContext, held?: RetainedStream[]): Step | null {
  const stream = streamName(table)
  const params = newParams()
  const where = predicate(model, table, ctx.subject, params, ctx.accounts)
  if (where === null) return null
  if (held) {
    const count = async (tx: SqlQueryable, signal: AbortSignal) => {
      const { rows } = await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${quoteTable(table.table)} AS t0 WHERE ${where}`, params.values, { signal })
      return Number(rows[0]?.n ?? 0)
    }
    return {
      stream,
      countKept: count,
      async run (tx, signal) {
        const n = await count(tx, signal)
        return n > 0 ? held.map((h) => ({ status: 'retained', stream, reason: h.reason, count: n, ground: h.ground, reference: h.reference })) : [{ status: 'not_found', stream }]
      }
    }
  }
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
      if (rows[0]?.matched) for (const keep of reasons) out.push({ status: 'retained', stream, ...keep })
      return out
    }
  }
}
