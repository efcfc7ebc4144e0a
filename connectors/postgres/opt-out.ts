import type { OptOutContext, OptOutOutcome } from '../types.js'
import { checkOptOutAgainstCatalog } from './catalog.js'
import { optOutColumns, streamName } from './config.js'
import { abortCheck, type RunDeps } from './collect.js'
import { toConnectorError } from './errors.js'
import { newParams, optOutStatement, predicate } from './plan.js'

/** How long a statement waits for a row lock held by the application before giving up (retryable). */
const LOCK_TIMEOUT = '30s'

/**
 * Records the subject's opt-out of the asked purposes: in every table with an `opt_out` setting,
 * on rows found the same way collect and erase find them, the column of each asked purpose the
 * table records is set; nothing is deleted and no other column changes. Dataset by dataset, each
 * in one transaction; outcomes are yielded after the commit. A table's setting lists the purposes
 * the table is used for: a purpose it does not list is not done with it, so there is nothing to stop.
 * Tables recording none of the asked purposes, and tables nothing of the subject can reach, yield nothing.
 */
export async function * optOutRows (deps: RunDeps, ctx: OptOutContext): AsyncGenerator<OptOutOutcome> {
  const { signal, log, purposes } = ctx
  let context = 'opt_out'
  try {
    const model = await deps.model(signal)
    checkOptOutAgainstCatalog(model.config, model.catalog)
    for (const dataset of model.config.datasets) {
      context = `opt_out dataset ${dataset.name}`
      const steps = dataset.tables.flatMap((table) => {
        if (!table.opt_out) return []
        const recorded = optOutColumns(table.opt_out).map(([p]) => p)
        const stops = purposes.filter((p) => recorded.includes(p))
        const params = newParams()
        const where = predicate(model, table, ctx.subject, params, ctx.accounts)
        const text = where === null ? null : optOutStatement(model, table, where, params, stops)
        return text === null ? [] : [{ stream: streamName(table), stops, text, values: params.values }]
      })
      if (steps.length === 0) continue
      abortCheck(signal, context)
      const outcomes = await deps.db.transaction(async (tx) => {
        await tx.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`, [], { signal })
        const out: OptOutOutcome[] = []
        for (const step of steps) {
          context = `opt_out ${step.stream}`
          abortCheck(signal, context)
          const { rows } = await tx.query<{ changed: number, matched: boolean }>(step.text, step.values, { signal })
          if (!rows[0]?.matched) {
            out.push({ status: 'not_found', stream: step.stream })
            continue
          }
          out.push({ status: 'opted_out', stream: step.stream, count: Number(rows[0].changed ?? 0), purposes: step.stops })
        }
        return out
      })
      context = `opt_out dataset ${dataset.name}`
      for (const o of outcomes) {
        log.debug({ stream: o.stream, status: o.status, ...(o.status === 'opted_out' ? { count: o.count } : {}) }, 'opt_out outcome')
        yield o
      }
    }
  } catch (err) {
    throw toConnectorError(err, context, signal)
  }
}
