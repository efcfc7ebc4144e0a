import type { DbHandle } from '../db/client.js'
import { createSystemEventsRepository } from '../db/repositories/system-events-repository.js'
import type { ConnectorInstance, ConnectorRegistry } from '../connectors/registry.js'
import type { RetentionSweepResult } from '../../connectors/types.js'

export interface SweepReport {
  connector: string
  dry_run: boolean
  total: number
  tables: RetentionSweepResult['tables']
}

/**
 * Runs one connector's retention sweep and records it in system_events (action retention_sweep)
 * with counts only: per table, the action and how many rows it touched (or would touch), and the
 * dry-run flag. Never values, not even the cutoff.
 */
export async function runSweep (dbh: DbHandle, instance: ConnectorInstance, opts: { dryRun: boolean, now: Date, actor: string }): Promise<SweepReport> {
  if (!instance.connector.sweep) throw new Error(`connector ${instance.id} has no retention rules`)
  const result: RetentionSweepResult = await instance.connector.sweep({ dryRun: opts.dryRun, now: opts.now, signal: AbortSignal.timeout(instance.timeoutMs) })
  const total = Object.values(result.tables).reduce((n, t) => n + t.rows, 0)
  const counts = Object.fromEntries(Object.entries(result.tables).map(([table, t]) => [table, { action: t.action, rows: t.rows }]))
  await createSystemEventsRepository(dbh).record({
    actor: opts.actor,
    action: 'retention_sweep',
    details: { connector: instance.id, dry_run: opts.dryRun, total, tables: counts }
  })
  return { connector: instance.id, dry_run: opts.dryRun, total, tables: result.tables }
}

/** The daily job: every connector with retention rules sweeps; one failing does not stop the others. */
export async function sweepAll (dbh: DbHandle, registry: ConnectorRegistry, now: Date): Promise<Record<string, unknown>> {
  const swept: Record<string, number> = {}
  const failed: string[] = []
  for (const instance of registry.values()) {
    if (!instance.connector.sweep) continue
    try {
      swept[instance.id] = (await runSweep(dbh, instance, { dryRun: false, now, actor: 'scheduler' })).total
    } catch {
      failed.push(instance.id)
    }
  }
  return { swept, failed }
}
