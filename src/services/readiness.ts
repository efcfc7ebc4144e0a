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
export async function readinessWithConnectors (dbh: DbHandle, registry: ConnectorRegistry, timeoutMs = PROBE_TIMEOUT_MS): Promise<Readiness> {
  return within(timeoutMs, checkAll(dbh, registry))
}

/**
 * How long a probe waits for the database. A probe must answer whatever the database does: one
 * that waits on a pool reconnecting to a stopped server would time out in the orchestrator, which
 * reads that as worse than "unavailable".
 */
export const PROBE_TIMEOUT_MS = 800

const UNREACHABLE: Readiness = { status: 'unavailable', checks: { database: 'unreachable', migrations: 'unknown' } }

/** The check's answer, or unreachable when it has not come within `ms` (the check goes on, unawaited). */
async function within (ms: number, check: Promise<Readiness>): Promise<Readiness> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<Readiness>((resolve) => { timer = setTimeout(() => resolve(UNREACHABLE), ms) })
  check.catch(() => {}) // settled late, after the timer answered
  try {
    return await Promise.race([check.catch(() => UNREACHABLE), late])
  } finally {
    clearTimeout(timer)
  }
}

async function checkAll (dbh: DbHandle, registry: ConnectorRegistry): Promise<Readiness> {
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
    return UNREACHABLE
  }
  const migrations = applied >= latestMigration ? 'current' : 'pending'
  return { status: migrations === 'current' ? 'ok' : 'unavailable', checks: { database: 'ok', migrations } }
}
