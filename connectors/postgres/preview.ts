import type { ConnectorContext, ErasePreview } from '../types.js'
import { abortCheck, type RunDeps } from './collect.js'
import { LOCK_TIMEOUT, planSteps } from './erase.js'
import { toConnectorError } from './errors.js'

/** Thrown at the end of a preview's transaction so that it rolls back; carries what it counted. */
class RolledBack extends Error {
  constructor (readonly counted: ErasePreview[]) { super('erasure preview rolled back') }
}

/**
 * The erasure's dry run: each dataset's erase runs exactly as `erase` runs it (same statements,
 * same order, in one transaction), and the transaction is rolled back, whatever happens. Counts per
 * stream: rows deleted (`erase`), rows whose columns were erased (`mask`), and, where the table
 * keeps columns for a reason, the subject's rows kept (`retain`, counted before the update).
 */
export async function previewErase (deps: RunDeps, ctx: ConnectorContext): Promise<ErasePreview[]> {
  const { signal } = ctx
  let context = 'erasure preview'
  const out: ErasePreview[] = []
  try {
    const model = await deps.model(signal)
    for (const dataset of model.config.datasets) {
      context = `erasure preview of dataset ${dataset.name}`
      const steps = planSteps(model, dataset, ctx)
      if (steps.length === 0) continue
      abortCheck(signal, context)
      try {
        await deps.db.transaction(async (tx) => {
          await tx.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`, [], { signal })
          const counted: ErasePreview[] = []
          for (const step of steps) {
            context = `erasure preview of ${step.stream}`
            abortCheck(signal, context)
            const retain = step.countKept ? await step.countKept(tx, signal) : 0
            const outcomes = await step.run(tx, signal)
            const changed = outcomes.reduce((n, o) => n + (o.status === 'erased' ? o.count : 0), 0)
            const reasons = [...new Set(outcomes.flatMap((o) => o.status === 'retained' ? [o.reason] : []))]
            counted.push({ stream: step.stream, erase: step.countKept ? 0 : changed, mask: step.countKept ? changed : 0, retain: reasons.length > 0 ? retain : 0, reasons })
          }
          throw new RolledBack(counted)
        })
      } catch (err) {
        if (!(err instanceof RolledBack)) throw err
        out.push(...err.counted)
      }
    }
    return out
  } catch (err) {
    throw toConnectorError(err, context, signal)
  }
}
