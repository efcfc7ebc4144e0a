import { randomUUID } from 'node:crypto'
import type { Config } from '../config.js'
import type { ConnectorInstance, ConnectorRegistry } from '../connectors/registry.js'
import type { DbHandle, TxHandle } from '../db/client.js'
import { createBackupsRepository, type RestoreRow } from '../db/repositories/backups-repository.js'
import { createRequestsRepository } from '../db/repositories/requests-repository.js'
import type { TasksRepository } from '../db/repositories/tasks-repository.js'
import type { StoredSubject } from '../db/schema.js'
import { computeDeadline, type Regime } from '../domain/deadlines.js'
import { TERMINAL_STATUSES } from '../domain/lifecycle.js'
import { queueTasks, type Boss } from '../jobs/queue.js'
import { Errors, validationError } from '../errors.js'
import type { Keyring } from '../receipts/keys.js'
import type { CreateRestore, Restore } from '../schemas/backups.js'
import { expireTombstones, sealPendingTombstones, tombstoneAad } from './tombstones.js'

/** How far ahead of our clock a backup_taken_at may be before it counts as "in the future". */
const CLOCK_SKEW_MS = 60_000

/**
 * Backup restores. An operator says "system X was restored from a backup taken at T"; everyone with
 * a live tombstone for X whose erasure happened at or after T is in the restored data again, and is
 * erased again through the normal engine: one erasure request per tombstone, for X only, linked to
 * the original request (and its audit trail), identity taken as established by it. The restore and
 * its re-erasures are made in one transaction, once: the same (connector, backup_taken_at) again is
 * the same restore, and (restore, tombstone) is unique, so nobody is erased twice for one restore.
 *
 * Tombstones past kept_until are expired first; they are counted, not erased again, since their
 * identifiers are gone: a backup that old should not exist any more, and the answer says so.
 */
export function createRestoresService (deps: {
  dbh: DbHandle
  config: Pick<Config, 'BACKUP_RETENTION_DAYS' | 'PIPL_RESPONSE_DAYS'>
  registry: ConnectorRegistry
  keyring: Pick<Keyring, 'tombstones'>
  tasks: TasksRepository
  boss: Boss
  now?: () => Date
}) {
  const { dbh, registry } = deps
  const now = deps.now ?? (() => new Date())
  const backups = createBackupsRepository(dbh)
  const requests = createRequestsRepository(dbh)

  async function resource (row: RestoreRow): Promise<Restore> {
    const made = await backups.reErasuresOf(row.id)
    const n = (...statuses: string[]) => made.filter((r) => statuses.includes(r.status)).length
    const open = made.filter((r) => !TERMINAL_STATUSES.includes(r.status)).length
    const failed = n('failed', 'partially_completed')
    return {
      id: row.id,
      connector: row.connectorId,
      backup_taken_at: row.backupTakenAt.toISOString(),
      note: row.note,
      created_by: row.createdBy,
      created_at: row.createdAt.toISOString(),
      status: open > 0 ? 'in_progress' : failed > 0 ? 'completed_with_failures' : 'completed',
      count: made.length,
      tombstones: { matched: row.matched, expired: row.expired, unreadable: row.unreadable },
      re_erasures: {
        open,
        completed: n('completed'),
        partially_completed: n('partially_completed'),
        failed: n('failed'),
        cancelled: n('cancelled', 'rejected')
      },
      requests: made.map((r) => ({ id: r.id, original_request_id: r.originalRequestId, status: r.status }))
    }
  }

  /** One erasure request for one tombstone, planned for the restored system only, in the caller's transaction. */
  async function reErase (input: {
    connector: ConnectorInstance
    restoreId: string
    backupTakenAt: Date
    actor: string
    at: Date
    subject: StoredSubject
    original: { id: string, regime: Regime, jurisdiction: string | null, timeZone: string, requesterKind: string }
  }, tx: TxHandle): Promise<string> {
    const { connector, original, at, actor } = input
    const deadline = computeDeadline({
      regime: original.regime, receivedAt: at, timeZone: original.timeZone, ...(original.jurisdiction ? { jurisdiction: original.jurisdiction } : {})
    }, { piplDays: deps.config.PIPL_RESPONSE_DAYS })
    const id = randomUUID()
    const link = { restore_id: input.restoreId, original_request_id: original.id, connector: connector.id, backup_taken_at: input.backupTakenAt.toISOString() }
    await backups.insertReErasureRequest({
      id,
      type: 'erasure',
      status: 'received',
      regime: original.regime,
      jurisdiction: original.jurisdiction,
      subject: input.subject,
      requester: { kind: original.requesterKind },
      channel: 'other',
      notes: `Erased again after ${connector.id} was restored from a backup taken at ${link.backup_taken_at} ` +
        `(restore ${input.restoreId}); first erased by request ${original.id}.`,
      timeZone: deadline.timeZone,
      receivedAt: at,
      dueAt: deadline.dueAt,
      acknowledgeBy: deadline.acknowledgeBy,
      extendedDueAt: deadline.extendedDueAt,
      deadlineRule: deadline.rule,
      createdBy: actor,
      createdAt: at,
      updatedAt: at
    }, { at, actor, action: 'created', toStatus: 'received', details: link }, tx)
    await requests.transitionIn(id, 'ready', actor, `identity established by request ${original.id}`, link, tx)
    const planned = await deps.tasks.plan(id, 'erase', [{ id: connector.id, maxAttempts: connector.maxAttempts }], tx)
    await queueTasks(planned, tx)
    await requests.recordEvent(id, actor, 'planned', null, { action: 'erase', connectors: [connector.id], restore_id: input.restoreId }, tx)
    await requests.transitionIn(id, 'in_progress', actor, `${planned.length} task(s) planned`, undefined, tx)
    await requests.recordEvent(original.id, actor, 'erased_again_after_restore', null, { ...link, request_id: id }, tx)
    return id
  }

  return {
    async get (id: string): Promise<Restore> {
      const row = await backups.findRestore(id)
      if (!row) throw new Errors.RestoreNotFound(id)
      return resource(row)
    },

    async create (input: CreateRestore, principal: { name: string }): Promise<{ restore: Restore, replayed: boolean }> {
      const at = now()
      const connector = registry.get(input.connector)
      if (!connector || !connector.capabilities.includes('erase')) throw new Errors.RestoreConnectorInvalid(input.connector)
      const takenAt = new Date(input.backup_taken_at)
      if (takenAt.getTime() > at.getTime() + CLOCK_SKEW_MS) {
        throw validationError([{ in: 'body', field: '/backup_taken_at', message: 'must not be in the future' }])
      }
      const earlier = await backups.findRestoreOf(connector.id, takenAt)
      if (earlier) return { restore: await resource(earlier), replayed: true }
      const keys = await deps.keyring.tombstones()

      const createdId = await dbh.transaction(async (tx) => {
        const restoreId = await backups.insertRestore({
          connectorId: connector.id, backupTakenAt: takenAt, note: input.note ?? null, createdBy: principal.name, createdAt: at
        }, tx)
        if (restoreId === null) return null // the same restore, made at this moment by another call
        // Tombstones closed since the last job run are sealed, and those past kept_until expire, first.
        await sealPendingTombstones(deps, { connector: connector.id }, tx)
        await expireTombstones(at, { connector: connector.id }, tx)
        const expired = await backups.countGoneInRestoredData(connector.id, takenAt, at, tx)
        const live = await backups.lockLiveInRestoredData(connector.id, takenAt, at, tx)
        let matched = 0
        let unreadable = 0
        for (const t of live) {
          const opened = t.sealedSubject ? keys.open(t.sealedSubject, tombstoneAad(t.id)) : null
          if (opened === null) {
            unreadable++
            continue
          }
          const requestId = await reErase({
            connector,
            restoreId,
            backupTakenAt: takenAt,
            actor: principal.name,
            at,
            subject: JSON.parse(opened) as StoredSubject,
            original: { id: t.originalId, regime: t.regime as Regime, jurisdiction: t.jurisdiction, timeZone: t.timeZone, requesterKind: t.requester.kind }
          }, tx)
          const linked = await backups.linkReErasure({ restoreId, tombstoneId: t.id, requestId, createdAt: at }, tx)
          if (!linked) throw new Error('tombstone already erased again for this restore')
          matched++
        }
        await backups.setRestoreCounts(restoreId, { matched, expired, unreadable }, tx)
        return restoreId
      })
      if (createdId === null) {
        const winner = await backups.findRestoreOf(connector.id, takenAt)
        if (!winner) throw new Error('restore vanished')
        return { restore: await resource(winner), replayed: true }
      }
      return { restore: await this.get(createdId), replayed: false }
    }
  }
}

export type RestoresService = ReturnType<typeof createRestoresService>
