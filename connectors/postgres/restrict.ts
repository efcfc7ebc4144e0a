import type { ConnectorContext, RestrictOutcome } from '../types.js'
import { checkRestrictAgainstCatalog } from './catalog.js'
import { streamName } from './config.js'
import { abortCheck, type RunDeps } from './collect.js'
import { toConnectorError } from './errors.js'
import { newParams, predicate, restrictStatement } from './plan.js'

/** How long a statement waits for a row lock held by the application before giving up (retryable). */
const LOCK_TIMEOUT = '30s'

/**
 * Places or lifts the restriction mark on the subject's rows: in every table with a `restrict`
 * setting, rows found the same way collect and erase find them. Dataset by dataset, each in one
 * transaction, so a dataset is marked whole or not at all; outcomes are yielded after the commit.
 * Tables without the setting, and tables nothing of the subject can reach, yield nothing.
 */
export async function * restrictRows (deps: RunDeps, ctx: ConnectorContext, direction: 'restrict' | 'unrestrict'): AsyncGenerator<RestrictOutcome> {
  const { signal, log } = ctx
  let context: string = direction
  try {
    const model = await deps.model(signal)
    checkRestrictAgainstCatalog(model.config, model.catalog)
    for (const dataset of model.config.datasets) {
      context = `${direction} dataset ${dataset.name}`
      const steps = dataset.tables.flatMap((table) => {
        if (!table.restrict) return []
        const params = newParams()
        const where = predicate(model, table, ctx.subject, params, ctx.accounts)
        if (where === null) return []
        return [{ stream: streamName(table), text: restrictStatement(model, table, where, params, direction), values: params.values }]
      })
      if (steps.length === 0) continue
      abortCheck(signal, context)
      const outcomes = await deps.db.transaction(async (tx) => {
        await tx.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`, [], { signal })
        const out: RestrictOutcome[] = []
        for (const step of steps) {
          context = `${direction} ${step.stream}`
          abortCheck(signal, context)
          const { rows } = await tx.query<{ changed: number, matched: boolean }>(step.text, step.values, { signal })
          out.push(rows[0]?.matched
            ? { status: direction === 'restrict' ? 'restricted' : 'unrestricted', stream: step.stream, count: Number(rows[0].changed ?? 0) }
            : { status: 'not_found', stream: step.stream })
        }
        return out
      })
      context = `${direction} dataset ${dataset.name}`
      for (const o of outcomes) {
        log.debug({ stream: o.stream, status: o.status, ...(o.status !== 'not_found' ? { count: o.count } : {}) }, `${direction} outcome`)
        yield o
      }
    }
  } catch (err) {
    throw toConnectorError(err, context, signal)
  }
}
