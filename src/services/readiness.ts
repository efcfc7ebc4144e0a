import { readFileSync } from 'node:fs'
import { sql } from 'drizzle-orm'
import { migrationsFolder, type DbHandle } from '../db/client.js'

export interface Readiness {
  status: 'ok' | 'unavailable'
  checks: { database: 'ok' | 'unreachable', migrations: 'current' | 'pending' | 'unknown' }
}

/** The newest migration shipped with this build (drizzle records its `when` as created_at). */
const latestMigration: number = (() => {
  const journal = JSON.parse(readFileSync(`${migrationsFolder}/meta/_journal.json`, 'utf8')) as { entries: Array<{ when: number }> }
  return Math.max(0, ...journal.entries.map((e) => e.when))
})()

export async function readiness (dbh: DbHandle): Promise<Readiness> {
  let applied: number
  try {
    const [row] = await dbh.rows<{ latest: string | number | null }>(sql`
      select max(created_at) as latest from drizzle.__drizzle_migrations`)
    applied = Number(row?.latest ?? 0)
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
