import { sql } from 'drizzle-orm'
import type { TxHandle } from '../client.js'
import { systemEvents } from '../schema.js'

export type NewSystemEvent = Pick<typeof systemEvents.$inferInsert, 'actor' | 'action' | 'details'>

/** The service's own audit trail (system_events): what it did that belongs to no request. Counts, never values. */
export function createSystemEventsRepository (dbh: TxHandle) {
  return {
    /** Appends an event. */
    async record (event: NewSystemEvent, tx: TxHandle = dbh): Promise<void> {
      await tx.db.insert(systemEvents).values(event)
    },

    /** Appends retention's `identifiers_redacted` event with its counts. */
    async recordIdentifiersRedacted (details: Record<string, unknown>, tx: TxHandle = dbh): Promise<void> {
      await tx.rows(sql`insert into system_events (actor, action, details)
      values ('retention', 'identifiers_redacted', ${JSON.stringify(details)}::jsonb)`)
    }
  }
}

export type SystemEventsRepository = ReturnType<typeof createSystemEventsRepository>
