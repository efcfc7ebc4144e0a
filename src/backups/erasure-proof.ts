import type { FastifyBaseLogger } from 'fastify'
import type { Config } from '../config.js'
import type { ConnectorRegistry } from '../connectors/registry.js'
import type { DbHandle } from '../db/client.js'
import type { Keyring } from '../receipts/keys.js'
import { issueMissingReceipts } from '../receipts/receipt.js'
import { expireTombstones, sealPendingTombstones } from './tombstones.js'

/**
 * The erasure_proof scheduled job (ERASURE_PROOF_CRON): seals the backup tombstones of erasures closed
 * since the last run and sets their kept_until, ends those whose kept_until has come (their sealed
 * identifiers are deleted; counts go to system_events), and issues the receipts of newly closed
 * erasures, while their requests still hold the identifiers the receipts hash. Counts only.
 */
export function createErasureProofJob (deps: {
  dbh: DbHandle
  config: Config
  registry: ConnectorRegistry
  keyring: Keyring
  log: Pick<FastifyBaseLogger, 'error'>
}) {
  const { keyring } = deps
  const tombstoneDeps = { config: deps.config, registry: deps.registry, keyring }
  return async function erasureProof (now: Date): Promise<Record<string, number>> {
    const sealed = await sealPendingTombstones(tombstoneDeps, {}, deps.dbh)
    const expired = await expireTombstones(now, {}, deps.dbh)
    const receipts = await issueMissingReceipts({ dbh: deps.dbh, config: deps.config, registry: deps.registry, keyring, log: deps.log })
    return {
      tombstones_sealed: sealed,
      tombstones_expired: Object.values(expired).reduce((a, b) => a + b, 0),
      receipts_issued: receipts
    }
  }
}
