import type { Config } from '../config.js'
import type { ConnectorRegistry } from '../connectors/registry.js'
import type { TxHandle } from '../db/client.js'
import { createBackupsRepository } from '../db/repositories/backups-repository.js'
import { createSystemEventsRepository } from '../db/repositories/system-events-repository.js'
import type { RequestRow } from '../db/repositories/requests-repository.js'
import type { StoredSubject } from '../db/schema.js'
import type { RequestStatus } from '../domain/lifecycle.js'
import type { RequestClosedListener } from '../engine/finalize.js'
import type { Keyring } from '../receipts/keys.js'
import { backupRetentionDays, erasedSomething, keptUntil } from './policy.js'

/**
 * Backup tombstones. A system's backups keep what an erasure removed until they are rotated out; a
 * restore from one of them brings the person back. So when an erasure closes, each system that erased
 * something gets a tombstone: who (identifiers sealed with AES-256-GCM), from which system, when, and
 * until when its backups can still hold them (kept_until). A restore re-erases the people of the live
 * tombstones (src/backups/restores.ts); at kept_until the sealed identifiers are deleted, so nothing is
 * kept longer than the backups it protects against.
 *
 * The tombstone is written in the transaction that closes the request (recordTombstones, told by
 * the finalizer through tombstonesOnClose), so no closed erasure lacks one even if the process dies right after. That transaction
 * has no keys or configuration, so the row starts pending: the erasure_proof job, or a restore, seals
 * the identifiers (from the request, well before REQUEST_IDENTIFIERS_RETENTION_DAYS redacts them) and
 * sets kept_until (sealPendingTombstones).
 */

export const tombstoneAad = (tombstoneId: string) => `dsr-backup-tombstone:${tombstoneId}`

export interface TombstoneDeps {
  config: Pick<Config, 'BACKUP_RETENTION_DAYS'>
  registry: ConnectorRegistry
  keyring: Pick<Keyring, 'tombstones'>
}

/** The request-closed listener of the backups: an erasure that closed leaves its tombstones. */
export const tombstonesOnClose: RequestClosedListener = ({ request, final }, tx) => recordTombstones(request, final, tx)

/**
 * Called when a request closes. For an erasure that closed completed or
 * partially_completed: one pending tombstone per system whose erase task erased something. A
 * re-erasure made by a restore moves its original tombstone on instead (the person was erased from
 * that system again, so its backups hold them until later); if that tombstone expired meanwhile, the
 * re-erasure gets its own. Idempotent: a request closing again after a retry adds only new systems.
 */
export async function recordTombstones (request: Pick<RequestRow, 'id' | 'type'>, final: RequestStatus, tx: TxHandle): Promise<number> {
  if (request.type !== 'erasure' || (final !== 'completed' && final !== 'partially_completed')) return 0
  const backups = createBackupsRepository(tx)
  const done = await backups.succeededErasures(request.id, tx)
  const erased = done.filter((t) => t.finishedAt !== null && erasedSomething(t.result))
  if (erased.length === 0) return 0
  const tombstoneId = await backups.reErasedTombstoneOf(request.id, tx)
  let recorded = 0
  for (const task of erased) {
    if (tombstoneId !== null && await backups.moveTombstoneOn(tombstoneId, task.connectorId, task.finishedAt!, tx)) {
      recorded++
      continue
    }
    if (await backups.insertPendingTombstone({ requestId: request.id, connectorId: task.connectorId, erasedAt: task.finishedAt! }, tx)) recorded++
  }
  return recorded
}

const hasIdentifiers = (subject: StoredSubject | null | undefined) =>
  !!subject && Object.entries(subject).some(([, v]) => v !== undefined && v !== null && (!Array.isArray(v) || v.length > 0))

/**
 * Seals pending tombstones (one connector's, or all) and sets their kept_until from the system's
 * backup retention. The identifiers come from the request; one whose request was already redacted
 * gets its kept_until but no seal (a restore then reports it unreadable). Returns how many.
 */
export async function sealPendingTombstones (deps: TombstoneDeps, opts: { connector?: string }, tx: TxHandle): Promise<number> {
  const { box } = await deps.keyring.tombstones()
  const backups = createBackupsRepository(tx)
  let settled = 0
  for (;;) {
    const pending = await backups.pendingTombstones(200, opts.connector, tx)
    if (pending.length === 0) return settled
    for (const t of pending) {
      const days = backupRetentionDays(deps.config, deps.registry, t.connectorId)
      const seal = t.sealedSubject === null && hasIdentifiers(t.subject)
        ? { sealedSubject: box.seal(JSON.stringify(t.subject), tombstoneAad(t.id)) }
        : {}
      await backups.settleTombstone(t.id, { ...seal, retentionDays: days, keptUntil: keptUntil(t.lastErasedAt, days) }, tx)
      settled++
    }
    if (pending.length < 200) return settled
  }
}

/**
 * Deletes the sealed identifiers of tombstones whose kept_until has come (one connector's, or all):
 * the backups that could hold the person are gone, and so is the reason to know who they were. The
 * rows stay, without identifiers, and a system_events row records the counts per connector.
 */
export async function expireTombstones (now: Date, opts: { connector?: string, actor?: string }, tx: TxHandle): Promise<Record<string, number>> {
  const backups = createBackupsRepository(tx)
  const expired = await backups.expireTombstonesDue(now, opts.connector, tx)
  const byConnector: Record<string, number> = {}
  for (const connectorId of expired) byConnector[connectorId] = (byConnector[connectorId] ?? 0) + 1
  if (expired.length > 0) {
    await createSystemEventsRepository(tx).record({
      actor: opts.actor ?? 'retention', action: 'backup_tombstones_expired', details: { total: expired.length, connectors: byConnector }
    }, tx)
  }
  return byConnector
}
