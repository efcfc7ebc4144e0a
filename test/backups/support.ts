import { asc } from 'drizzle-orm'
import { backupTombstones } from '../../src/db/schema-proof.js'
import { auth, build, describedFile, requestBody, waitFor } from '../helper.js'
import { createRegistry, type ConnectorInstance } from '../../src/connectors/registry.js'
import { drivers } from '../../connectors/index.js'
import type { DbHandle } from '../../src/db/client.js'
import { SALT, SCHEMA_SQL, SEED_SQL, shopConfig, type Query } from '../fixtures/postgres-connector.js'

/**
 * Shared by the receipt and restore tests: the shop of test/fixtures/postgres-connector.ts inside the
 * service's own database (the connector's `embedded:` address, on PGlite or on the test's Postgres
 * database alike), next to in-memory systems.
 */

export const ADA = 'ada.lovelace@example.com'
export const BOB = 'bob@example.com'
const quietLog = { debug () {}, info () {}, warn () {}, error () {} }

export type App = Awaited<ReturnType<typeof build>>

/** Creates the shop's tables and rows in the service database; returns a query function on it. */
export async function shopInServiceDb (dbh: DbHandle): Promise<Query> {
  await dbh.executor.executeSql(SCHEMA_SQL + SEED_SQL)
  return async (text, params = []) => (await dbh.executor.executeSql(text, params)).rows as Array<Record<string, unknown>>
}

/** A memory system holding Ada and Bob (or only Bob, with `adaToo: false`). */
export function memorySystem (id: string, opts: { adaToo?: boolean, displayName?: string, backupRetentionDays?: number } = {}) {
  return {
    id,
    driver: 'memory',
    ...(opts.displayName ? { display_name: opts.displayName } : {}),
    ...(opts.backupRetentionDays !== undefined ? { backup_retention_days: opts.backupRetentionDays } : {}),
    settings: {
      streams: [{
        name: 'contacts',
        match: { email: 'email' },
        records: [
          ...(opts.adaToo === false ? [] : [{ id: `${id}-1`, email: ADA, note: 'Ada, countess' }]),
          { id: `${id}-2`, email: BOB, note: 'Bob' }
        ]
      }]
    }
  }
}

/** The shop connector entry (postgres driver, on the service database). */
export function shopSystem (opts: { backupRetentionDays?: number, displayName?: string } = {}) {
  return {
    id: 'shop',
    driver: 'postgres',
    display_name: opts.displayName ?? 'Web shop',
    ...(opts.backupRetentionDays !== undefined ? { backup_retention_days: opts.backupRetentionDays } : {}),
    settings: { ...shopConfig('embedded:'), salt: { env: 'SHOP_SALT' } }
  }
}

export async function registryWith (dbh: DbHandle, connectors: unknown[]): Promise<Map<string, ConnectorInstance>> {
  return createRegistry(describedFile({ connectors }), { drivers, env: { SHOP_SALT: SALT }, log: quietLog, serviceDatabase: dbh })
}

/** Fast tasks, no scheduler (tests tick jobs by hand). */
export const FAST = { TASK_RETRY_BASE_MS: '50', TASK_POLL_SECONDS: '0.5', TASK_LEASE_SECONDS: '5', SCHEDULER_ENABLED: 'false' }

/** Files an erasure for `email`, identity verified at intake, and waits for it to close. */
export async function erase (app: App, email: string): Promise<{ id: string, status: string, tasks: Array<Record<string, any>> }> {
  const created = await app.inject({
    method: 'POST',
    url: '/v1/requests',
    headers: auth('writer'),
    payload: requestBody({ type: 'erasure', subject: { email }, verification: { method: 'account_login' } })
  })
  if (created.statusCode !== 202) throw new Error(`erasure not accepted: ${created.statusCode} ${created.body}`)
  return settled(app, created.json().id)
}

export async function settled (app: App, id: string) {
  return waitFor(async () => {
    const body = (await app.inject({ url: `/v1/requests/${id}`, headers: auth() })).json()
    return ['completed', 'partially_completed', 'failed'].includes(body.status) ? body : null
  }, 60_000, `request ${id} to close`)
}

export async function tombstones (dbh: DbHandle) {
  return dbh.db.select().from(backupTombstones).orderBy(asc(backupTombstones.connectorId), asc(backupTombstones.createdAt))
}
