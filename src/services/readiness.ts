import { readFileSync } from 'node:fs'
import { migrationsFolder, type DbHandle } from '../db/client.js'
import { createMetricsRepository } from '../db/repositories/metrics-repository.js'
import type { ConnectorRegistry } from '../connectors/registry.js'
import { latestHealth } from '../engine/circuit.js'

export interface Readiness {
  status: 'ok' | 'unavailable'
  checks: {
    database: 'ok' | 'unreachable'
    migrations: 'current' | 'pending' | 'unknown'
    /** Required connectors only, by their latest stored health check. */
    connectors?: Record<string, 'ok' | 'down' | 'unknown'>
  }
}

/**
 * Readiness including the connectors marked `required`: one whose latest stored check says down
 * makes the service unavailable, and is named in `checks.connectors`.
 */
export async function readinessWithConnectors (dbh: DbHandle, registry: ConnectorRegistry): Promise<Readiness> {
  const result = await readiness(dbh)
  const required = [...registry.values()].filter((c) => c.required)
  if (required.length === 0 || result.checks.database !== 'ok' || result.checks.migrations !== 'current') return result
  const latest = await latestHealth(dbh)
  const connectors = Object.fromEntries(required.map((c) => [c.id, latest.get(c.id)?.status ?? 'unknown' as const]))
  const down = Object.values(connectors).includes('down')
  return { status: down ? 'unavailable' : result.status, checks: { ...result.checks, connectors } }
}

/** The newest migration shipped with this build (drizzle records its `when` as created_at). */
const latestMigration: number = (() => {
  const journal = JSON.parse(readFileSync(`${migrationsFolder}/meta/_journal.json`, 'utf8')) as { entries: Array<{ when: number }> }
  return Math.max(0, ...journal.entries.map((e) => e.when))
})()

export async function readiness (dbh: DbHandle): Promise<Readiness> {
  let applied: number
  try {
    applied = Number(await createMetricsRepository(dbh).latestAppliedMigration() ?? 0)
  } catch (err) {
    // 42P01: the migrations table does not exist yet, so the database is up but unmigrated.
    if ((err as { code?: string }).code === '42P01' || (err as { cause?: { code?: string } }).cause?.code === '42P01') {
      return { status: 'unavailable', checks: { database: 'ok', migrations: 'pending' } }
    }
    return { status: 'unavailable', checks: { database: 'unreachable', migrations: 'unknown' } }
  }
  const migrations = applied >= latestMigration ? 'current' : 'pending'
  return { status: migrations === 'current' ? 'ok' : 'unavailable', checks: { database: 'ok', migrations } }
}
