import type { FastifyBaseLogger } from 'fastify'
import type { Config } from '../config.js'
import type { DbHandle } from '../db/client.js'
import type { ConnectorRegistry } from '../connectors/registry.js'
import type { SweepExpiredArchives } from '../archive/retention.js'
import { createErasureProofJob } from '../backups/erasure-proof.js'
import type { Circuit } from './circuit.js'
import { runDeadlineMonitor } from './deadline-monitor.js'
import { redactClosedRequests } from './redaction.js'
import { sweepAll } from './retention.js'
import type { ScheduledJob } from './scheduler.js'
import type { Keyring } from '../receipts/keys.js'
import { sealAuditChain } from '../audit/seal.js'

/** The time a job runs "as of": its slot when that is later than the clock (tests drive slots by hand). */
const asOf = (slot: Date) => new Date(Math.max(Date.now(), slot.getTime()))

/** Every scheduled job of the service, with its cron from configuration. */
export function scheduledJobs (deps: {
  config: Config
  dbh: DbHandle
  registry: ConnectorRegistry
  circuit: Pick<Circuit, 'runDue'>
  sweepExpiredArchives: SweepExpiredArchives
  keyring: Keyring
  log: FastifyBaseLogger
  /** Rejects the requests left unverified past VERIFICATION_TIMEOUT_DAYS (verification-service rejectUnverified). */
  rejectUnverified: (now: Date) => Promise<Record<string, number>>
  /** Tells the administrators, or the person, still untold of a managed account's waiting part (controller-routing tellUntold). */
  tellUntold: (now: Date) => Promise<{ told: number, failed: number }>
}): ScheduledJob[] {
  const { config } = deps
  const erasureProof = createErasureProofJob(deps)
  return [
    { name: 'connector_health', cron: config.HEALTH_CRON, run: (slot) => deps.circuit.runDue(asOf(slot)) },
    { name: 'retention_sweep', cron: config.RETENTION_CRON, run: (slot) => sweepAll(deps.dbh, deps.registry, asOf(slot)) },
    {
      name: 'request_redaction',
      cron: config.REDACTION_CRON,
      run: async (slot) => ({ ...await redactClosedRequests(deps.dbh, { now: asOf(slot), retentionDays: config.REQUEST_IDENTIFIERS_RETENTION_DAYS }) })
    },
    {
      name: 'archive_expiry',
      cron: config.ARCHIVE_EXPIRY_CRON,
      run: async (slot) => ({ ...await deps.sweepExpiredArchives(asOf(slot)) })
    },
    {
      name: 'deadline_monitor',
      cron: config.DEADLINE_CRON,
      run: async (slot) => {
        const monitored = await runDeadlineMonitor({
          dbh: deps.dbh,
          log: deps.log,
          webhookUrl: config.DEADLINE_WEBHOOK_URL,
          secret: config.DEADLINE_WEBHOOK_SECRET,
          warningHours: config.DEADLINE_WARNING_HOURS
        }, asOf(slot))
        // An account part's notices that failed through all of their job's retries are sent again here.
        const untold = await deps.tellUntold(asOf(slot))
        return { ...monitored, untold_told: untold.told, untold_failed: untold.failed }
      }
    },
    { name: 'erasure_proof', cron: config.ERASURE_PROOF_CRON, run: (slot) => erasureProof(asOf(slot)) },
    { name: 'verification_timeout', cron: config.VERIFICATION_TIMEOUT_CRON, run: (slot) => deps.rejectUnverified(asOf(slot)) },
    { name: 'audit_seal', cron: config.AUDIT_SEAL_CRON, run: (slot) => sealAuditChain(deps, { now: asOf(slot) }) }
  ]
}
