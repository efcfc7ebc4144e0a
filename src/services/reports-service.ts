import type { Config } from '../config.js'
import type { DbHandle } from '../db/client.js'
import { findDeadlines } from '../engine/deadline-monitor.js'

/** Operational reports. */
export function createReportsService (deps: { dbh: DbHandle, config: Pick<Config, 'DEADLINE_WARNING_HOURS'> }) {
  return {
    /** Open requests due within the window (DEADLINE_WARNING_HOURS by default), and those overdue. */
    async deadlines (windowHours?: number) {
      const now = new Date()
      const window = windowHours ?? deps.config.DEADLINE_WARNING_HOURS
      return { generated_at: now.toISOString(), window_hours: window, ...await findDeadlines(deps.dbh, now, window) }
    }
  }
}

export type ReportsService = ReturnType<typeof createReportsService>
