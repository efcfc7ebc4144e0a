import { sql } from 'drizzle-orm'
import type { DbHandle } from './client.js'

/**
 * The tables whose rows are worked under a lease, and the status a row has while its lease is held.
 * Each has `lease_owner` and `lease_expires_at`; taking and releasing a lease differ per table
 * (what else the row records), renewing it does not.
 */
export const LEASED = { tasks: 'running', transfers: 'sending', archives: 'building' } as const

/** Extends a lease `worker` holds on a row of `table`; false when it was lost (the worker must stop). */
export async function renewLease (dbh: DbHandle, table: keyof typeof LEASED, id: string, worker: string, leaseMs: number): Promise<boolean> {
  const rows = await dbh.rows(sql`
    update ${sql.identifier(table)} set lease_expires_at = now() + ${`${leaseMs} milliseconds`}::interval
    where id = ${id} and lease_owner = ${worker} and status = ${LEASED[table]}
    returning id`)
  return rows.length === 1
}
