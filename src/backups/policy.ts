import type { Config } from '../config.js'
import type { ConnectorRegistry } from '../connectors/registry.js'
import type { TaskResult } from '../db/schema.js'

const DAY_MS = 86_400_000

/**
 * How long backups of a system are kept: its connector entry's `backup_retention_days`, or
 * BACKUP_RETENTION_DAYS. A connector no longer configured gets the global setting.
 */
export function backupRetentionDays (config: Pick<Config, 'BACKUP_RETENTION_DAYS'>, registry: ConnectorRegistry, connectorId: string): number {
  return registry.get(connectorId)?.backupRetentionDays ?? config.BACKUP_RETENTION_DAYS
}

/** Until when backups taken up to `erasedAt` can still hold what was erased then. */
export function keptUntil (erasedAt: Date, days: number): Date {
  return new Date(erasedAt.getTime() + days * DAY_MS)
}

/**
 * Whether an erase task left something behind in the system's backups: it erased at least one
 * record, or the system accepted a deferred erasure. Where nothing was found, no backup holds
 * anything the erasure removed.
 */
export function erasedSomething (result: TaskResult | null | undefined): boolean {
  return (result?.outcomes ?? []).some((o) => (o.status === 'erased' && (o.count ?? 0) > 0) || o.status === 'deferred')
}
