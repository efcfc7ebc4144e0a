import type { DbHandle } from '../db/client.js'
import type { ConnectorInstance } from '../connectors/registry.js'
import type { Circuit, StoredHealth } from '../engine/circuit.js'
import { runSweep } from '../engine/retention.js'

/** The connectors' health as stored and checked by the circuit breaker, and their retention sweeps on demand. */
export function createConnectorsService (deps: { dbh: DbHandle, circuit: Pick<Circuit, 'latest' | 'check'> }) {
  return {
    /** The latest stored health check of every connector checked so far. */
    latestHealth: () => deps.circuit.latest(),
    /** A health check run now, stored, and acted on by the circuit breaker. */
    checkNow: (connectorId: string) => deps.circuit.check(connectorId),
    /** The connector's retention sweep, run now (`dryRun` only counts). */
    sweep: (instance: ConnectorInstance, opts: { dryRun: boolean, actor: string }) =>
      runSweep(deps.dbh, instance, { dryRun: opts.dryRun, now: new Date(), actor: opts.actor })
  }
}

export type ConnectorsService = ReturnType<typeof createConnectorsService>
export type { StoredHealth }
