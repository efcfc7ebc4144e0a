import { randomUUID } from 'node:crypto'
import { and, desc, eq, inArray, isNull, sql, type SQL } from 'drizzle-orm'
import type { DbHandle, TxHandle } from '../client.js'
import { archiveLinks, archives } from '../schema.js'

export type ArchiveRow = typeof archives.$inferSelect
export type ArchiveLinkRow = typeof archiveLinks.$inferSelect

/**
 * `archive_links.revoked_by` of the links revoked because their archive was replaced by a newer
 * build: they answer 410 DSR_LINK_SUPERSEDED rather than 403 DSR_LINK_REVOKED.
 */
export const SUPERSEDED_BY = 'system:archive-superseded'

/** A build attempt that holds the archive row: the new id, and the file a previous attempt may have left. */
export interface BuildClaim { id: string, previousKey: string | null }

/** Who takes a build: the worker, and how long its lease lasts unless renewed. */
export interface BuildHolder { worker: string, leaseMs: number }

/** Where the build jobs are: pg-boss's schema and the archive queue (jobs/queue.ts). */
export interface BuildQueue { schema: string, name: string }

/**
 * A subquery: the build job of the request `requestId` names, waiting in the queue or taken less than
 * `takenWithinMs` ago. Once a worker takes a job, the build it starts claims the archive within that
 * time, so an older `active` job whose build claimed nothing was lost with its worker.
 */
const buildJobWaiting = (queue: BuildQueue, requestId: SQL, takenWithinMs: number) => sql`
  select 1 from ${sql.identifier(queue.schema)}.job j
  where j.name = ${queue.name} and j.data->>'requestId' = ${requestId}::text
    and (j.state in ('created', 'retry') or (j.state = 'active' and j.started_on > now() - ${`${takenWithinMs} milliseconds`}::interval))`

/** When a build queued now must have been claimed by (see reapExpired). */
const pickupBy = (pickupMs: number) => sql`now() + ${`${pickupMs} milliseconds`}::interval`

/** Archive builds whose holder stopped (their lease ran out): queued again, or failed when out of attempts. */
export interface ReapedBuilds { retry: ArchiveRow[], failed: ArchiveRow[] }

/** Archives and their download links. Writes that must agree with others take the caller's transaction. */
export function createArchivesRepository (dbh: DbHandle) {
  return {
    async forRequest (requestId: string, tx: TxHandle = dbh): Promise<ArchiveRow | null> {
      const [row] = await tx.db.select().from(archives).where(eq(archives.requestId, requestId)).limit(1)
      return row ?? null
    },

    /**
     * Starts a build attempt, in one statement: a ready or expired archive is left alone (null);
     * otherwise the row (made if missing, while the request exists) gets a fresh id, so the file of
     * an earlier, interrupted attempt is never mistaken for this one's. `previousKey` names that
     * file, to delete. Two attempts at once both claim, one after the other (the row's lock): the
     * later one owns the row, and the earlier one's `markReadyWithEvent` finds it taken over. The
     * claim is a lease `holder` renews while it builds (renewLease), so a build whose worker died
     * is found by `reapExpired`.
     */
    async claimBuild (requestId: string, storageKey: (archiveId: string) => string, holder: BuildHolder, tx: TxHandle = dbh): Promise<BuildClaim | null> {
      const id = randomUUID()
      const [row] = await tx.rows<{ claimed: string | null, previous_key: string | null }>(sql`
        with old as (
          select storage_key from archives where request_id = ${requestId}
        ), claimed as (
          insert into archives (id, request_id, status, storage_key, lease_owner, lease_expires_at, build_attempts)
          select ${id}::uuid, ${requestId}::uuid, 'building', ${storageKey(id)}, ${holder.worker}, now() + ${`${holder.leaseMs} milliseconds`}::interval, 1
          where exists (select 1 from requests where id = ${requestId})
          on conflict (request_id) do update set id = excluded.id, status = 'building', storage_key = excluded.storage_key,
            error_code = null, size = null, sha256 = null, manifest = null, encryption = null, ready_at = null, expires_at = null,
            lease_owner = excluded.lease_owner, lease_expires_at = excluded.lease_expires_at, build_attempts = archives.build_attempts + 1
          where archives.status not in ('ready', 'expired')
          returning id
        )
        select (select id from claimed) as claimed, (select storage_key from old) as previous_key`)
      return row?.claimed ? { id, previousKey: row.previous_key } : null
    },

    /**
     * Marks this attempt's archive ready and appends the request's `archive_ready` event, in one
     * statement; false (and no event) when a newer attempt took the row over meanwhile.
     */
    async markReadyWithEvent (id: string, done: Pick<ArchiveRow, 'size' | 'sha256' | 'manifest' | 'encryption' | 'readyAt' | 'expiresAt'>,
      event: { requestId: string, actor: string, details: Record<string, unknown> }): Promise<boolean> {
      const rows = await dbh.rows<{ id: string }>(sql`
        with marked as (
          update archives set status = 'ready', error_code = null, size = ${done.size}, sha256 = ${done.sha256},
            manifest = ${JSON.stringify(done.manifest)}::jsonb, encryption = ${done.encryption === null ? null : JSON.stringify(done.encryption)}::jsonb,
            ready_at = ${done.readyAt?.toISOString() ?? null}::timestamptz, expires_at = ${done.expiresAt?.toISOString() ?? null}::timestamptz,
            lease_owner = null, lease_expires_at = null
          where id = ${id} and status = 'building'
          returning id
        ), event as (
          insert into request_events (request_id, actor, action, details)
          select ${event.requestId}, ${event.actor}, 'archive_ready', ${JSON.stringify(event.details)}::jsonb from marked
        )
        select id from marked`)
      return rows.length === 1
    },

    /** Records a failed attempt; the last one marks the archive failed (kept until `expiresAt` for retention). */
    async markAttemptFailed (id: string, errorCode: string, final: { expiresAt: Date } | null, pickupMs: number, tx: TxHandle = dbh): Promise<boolean> {
      const rows = await tx.db.update(archives).set({
        errorCode,
        leaseOwner: null,
        // Not final: the queue tries again, and should its retry be lost the reaper queues one (reapExpired).
        ...(final ? { status: 'failed' as const, expiresAt: final.expiresAt, leaseExpiresAt: null } : { leaseExpiresAt: pickupBy(pickupMs) })
      }).where(and(eq(archives.id, id), eq(archives.status, 'building'))).returning({ id: archives.id })
      return rows.length === 1
    },

    /** Archives past their expiry, locked for this sweep; others sweeping at once skip them. */
    async lockExpired (now: Date, limit: number, tx: TxHandle = dbh): Promise<ArchiveRow[]> {
      return tx.db.select().from(archives)
        .where(and(inArray(archives.status, ['ready', 'failed']), sql`${archives.expiresAt} <= ${now.toISOString()}::timestamptz`))
        .orderBy(archives.expiresAt).limit(limit).for('update', { skipLocked: true })
    },

    /** Ready archives whose collected items are due for deletion before the archive itself. */
    async lockItemsDue (now: Date, itemDays: number, limit: number, tx: TxHandle = dbh): Promise<ArchiveRow[]> {
      return tx.db.select().from(archives).where(and(
        eq(archives.status, 'ready'),
        sql`${archives.readyAt} + make_interval(days => ${itemDays}) <= ${now.toISOString()}::timestamptz`,
        sql`exists (select 1 from collected_items i where i.request_id = ${archives.requestId})`
      )).orderBy(archives.readyAt).limit(limit).for('update', { skipLocked: true })
    },

    async markExpired (id: string, now: Date, tx: TxHandle = dbh): Promise<void> {
      await tx.db.update(archives).set({ status: 'expired', deletedAt: now }).where(eq(archives.id, id))
    },

    async createLink (link: { requestId: string, createdBy: string, expiresAt: Date }, tx: TxHandle = dbh): Promise<ArchiveLinkRow> {
      const [row] = await tx.db.insert(archiveLinks).values(link).returning()
      return row!
    },

    async link (linkId: string, tx: TxHandle = dbh): Promise<ArchiveLinkRow | null> {
      const [row] = await tx.db.select().from(archiveLinks).where(eq(archiveLinks.id, linkId)).limit(1)
      return row ?? null
    },

    /** The request's download links, newest first (never their signatures: those are not stored). */
    async links (requestId: string, tx: TxHandle = dbh): Promise<ArchiveLinkRow[]> {
      return tx.db.select().from(archiveLinks).where(eq(archiveLinks.requestId, requestId)).orderBy(desc(archiveLinks.createdAt), desc(archiveLinks.id))
    },

    /** Revokes a link of the request; null when there is no such link, false when it was already revoked. */
    async revokeLink (requestId: string, linkId: string, actor: string, tx: TxHandle = dbh): Promise<boolean | null> {
      const [row] = await tx.db.select().from(archiveLinks)
        .where(and(eq(archiveLinks.id, linkId), eq(archiveLinks.requestId, requestId))).for('update')
      if (!row) return null
      const revoked = await tx.db.update(archiveLinks).set({ revokedAt: sql`now()`, revokedBy: actor })
        .where(and(eq(archiveLinks.id, linkId), isNull(archiveLinks.revokedAt))).returning({ id: archiveLinks.id })
      return revoked.length === 1
    },

    async countDownload (linkId: string, tx: TxHandle = dbh): Promise<void> {
      await tx.db.update(archiveLinks).set({ downloads: sql`${archiveLinks.downloads} + 1` }).where(eq(archiveLinks.id, linkId))
    },

    /**
     * The archive row of a request that just completed, in its transaction (idempotent): queued,
     * to be claimed within `pickupMs` (see reapExpired).
     */
    async createPendingArchive (requestId: string, pickupMs: number, tx: TxHandle = dbh): Promise<void> {
      await tx.db.insert(archives).values({ requestId, leaseExpiresAt: pickupBy(pickupMs) }).onConflictDoNothing({ target: archives.requestId })
    },

    /** The request's archive row, locked for the rest of the caller's transaction. */
    async lockArchive (requestId: string, tx: TxHandle = dbh): Promise<ArchiveRow | null> {
      const [row] = await tx.db.select().from(archives).where(eq(archives.requestId, requestId)).for('update')
      return row ?? null
    },

    /**
     * Replaces the request's archive by a new build, in the caller's transaction: the row becomes
     * `building` under a fresh id (so an attempt still running for the old one cannot mark it ready,
     * and the build job deletes the old file, still named by `storage_key`), and every live link of
     * the request is revoked as superseded. One row per request: never two live archives.
     */
    async supersedeArchive (current: ArchiveRow, pickupMs: number, tx: TxHandle = dbh): Promise<{ linksRevoked: number }> {
      await tx.db.update(archives).set({
        id: randomUUID(),
        status: 'building',
        errorCode: null,
        size: null,
        sha256: null,
        manifest: null,
        encryption: null,
        readyAt: null,
        expiresAt: null,
        deletedAt: null,
        leaseOwner: null,
        leaseExpiresAt: pickupBy(pickupMs),
        buildAttempts: 0
      }).where(eq(archives.id, current.id))
      const revoked = await tx.db.update(archiveLinks).set({ revokedAt: sql`now()`, revokedBy: SUPERSEDED_BY })
        .where(and(eq(archiveLinks.requestId, current.requestId), isNull(archiveLinks.revokedAt))).returning({ id: archiveLinks.id })
      return { linksRevoked: revoked.length }
    },

    /**
     * An expired archive whose request collected again (a retried task): it cannot be rebuilt, as
     * retention deleted the rest of the data; marked failed and due now, so the next sweep deletes
     * what the retry collected too.
     */
    /**
     * Builds nobody is working on, in the caller's transaction: a claim whose holder stopped (its
     * lease ran out unrenewed), or a build queued but not claimed by its pickup time whose job is no
     * longer waiting in the queue (a job a worker took and lost, say when the database restarted
     * between taking it and answering: pg-boss would hold it `active` until it expires, hours later).
     * Those with attempts left (`maxAttempts` claims) are to be queued again and get a new pickup
     * time, so a lost retry is found again; the others fail with `errorCode`, kept until `expiresAt`
     * like any failed build. Others reaping at once skip them.
     */
    async reapExpired (opts: { queue: BuildQueue, maxAttempts: number, errorCode: string, expiresAt: Date, pickupMs: number, limit?: number }, tx: TxHandle = dbh): Promise<ReapedBuilds> {
      const expired = await tx.rows<{ id: string }>(sql`
        select a.id from archives a
        where a.status = 'building' and a.lease_expires_at < now()
          and not exists (${buildJobWaiting(opts.queue, sql`a.request_id`, opts.pickupMs)})
        order by a.lease_expires_at limit ${opts.limit ?? 100} for update of a skip locked`)
      if (expired.length === 0) return { retry: [], failed: [] }
      const ids = expired.map((r) => r.id)
      const retry = await tx.db.update(archives).set({ leaseOwner: null, leaseExpiresAt: pickupBy(opts.pickupMs), errorCode: opts.errorCode })
        .where(and(inArray(archives.id, ids), sql`${archives.buildAttempts} < ${opts.maxAttempts}`)).returning()
      const failed = await tx.db.update(archives).set({ status: 'failed', leaseOwner: null, leaseExpiresAt: null, errorCode: opts.errorCode, expiresAt: opts.expiresAt })
        .where(and(inArray(archives.id, ids), sql`${archives.buildAttempts} >= ${opts.maxAttempts}`)).returning()
      return { retry, failed }
    },

    /**
     * Whether the request's archive is a build whose holder stopped (its lease ran out): an
     * administrator may queue it again without waiting for the reaper.
     */
    isAbandoned (row: ArchiveRow, now: Date): boolean {
      return row.status === 'building' && row.leaseExpiresAt !== null && row.leaseExpiresAt <= now
    },

    async markSweptArchiveDue (id: string, errorCode: string, now: Date, tx: TxHandle = dbh): Promise<void> {
      await tx.db.update(archives).set({ status: 'failed', errorCode, expiresAt: now }).where(and(eq(archives.id, id), eq(archives.status, 'expired')))
    }
  }
}

export type ArchivesRepository = ReturnType<typeof createArchivesRepository>
