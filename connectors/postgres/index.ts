import {
  ConnectorError, ConnectorErrorCodes, defineConnector,
  type Capability, type Connector, type ConnectorContext, type ConnectorDeps, type ConnectorLogger, type HealthResult, type OptOutContext
} from '../types.js'
import { loadCatalog, checkAgainstCatalog } from './catalog.js'
import { collectRows } from './collect.js'
import { EMBEDDED_URL, PostgresConfigSchema, capabilitiesFor, checkConfig, hasOptOut, hasAccounts, hasRestrict, streamsFor, type PostgresConfig } from './config.js'
import { eraseRows } from './erase.js'
import { identifyRows } from './identify.js'
import { previewErase } from './preview.js'
import { optOutRows } from './opt-out.js'
import { restrictRows } from './restrict.js'
import { sweepRetention } from './retention.js'
import { toConnectorError } from './errors.js'
import { buildModel, type Model } from './plan.js'
import { sqlClientFromUrl, sqlClientOfService, type SqlClient } from './sql-client.js'

export { PostgresConfigSchema, type PostgresConfig } from './config.js'
export type { SqlClient } from './sql-client.js'

/** How long `health` waits for `select 1` at most, whatever the caller's signal. */
export const HEALTH_TIMEOUT_MS = 5000

const CAPABILITIES: readonly Capability[] = ['collect', 'erase', 'restrict', 'opt_out', 'retention']

/**
 * The generic Postgres connector: tables of a system's database declared in the connector file,
 * matched to the subject by identity columns and references, collected through cursors and
 * erased per dataset in one transaction. `url: embedded:` runs on the service's own database.
 */
export const postgresConnector = defineConnector({
  driver: 'postgres',
  displayName: 'PostgreSQL',
  version: 1,
  // 'restrict' applies only where a table has a `restrict` setting (the connector then gets restrict
  // and unrestrict), 'opt_out' only where a table has an `opt_out` setting, 'retention' only to connectors configured with retention rules (they get `sweep`).
  capabilities: CAPABILITIES,
  // Erased in committed transactions: the next query sees the result, so there is nothing to wait for.
  erasureCheck: { searchable: true, settleMs: 0 },
  capabilitiesFor: (config: PostgresConfig) => capabilitiesFor(config, CAPABILITIES),
  streams: [],
  streamsFor,
  configSchema: PostgresConfigSchema,
  secretFields: ['url', 'salt'],
  create (config, deps) {
    checkConfig(config)
    return createPostgresConnector(config, openClient(config, deps), deps.log)
  }
})

function openClient (config: PostgresConfig, deps: ConnectorDeps): SqlClient {
  if (config.url !== EMBEDDED_URL) return sqlClientFromUrl(config.url)
  if (!deps.serviceDatabase) {
    throw new ConnectorError(ConnectorErrorCodes.Config, 'url "embedded:" needs the service database, and none was given', { retryable: false })
  }
  return sqlClientOfService(deps.serviceDatabase)
}

/** The connector over any SqlClient (exported for tests and for wiring a client by hand). */
export function createPostgresConnector (config: PostgresConfig, db: SqlClient, log: ConnectorLogger): Connector {
  let model: Promise<Model> | undefined

  /** The catalog is read and checked once, on first use; a failure is retried next time. */
  const getModel = (signal: AbortSignal): Promise<Model> => {
    model ??= loadCatalog(db, config, signal).then((catalog) => {
      checkAgainstCatalog(config, catalog)
      warnUndeclaredForeignKeys(config, catalog.foreignKeys, log)
      return buildModel(config, catalog)
    })
    model.catch(() => { model = undefined })
    return model
  }
  const deps = { db, model: getModel }

  return {
    // A legal hold on some streams keeps those tables (and the tables they refer to) and erases the rest.
    skipsStreams: true,
    reportsAccounts: hasAccounts(config),
    health: ({ signal }) => health(db, signal),
    collect: (ctx) => collectRows(deps, ctx),
    identify: (ctx) => identifyRows(deps, ctx),
    erase: (ctx) => eraseRows(deps, ctx),
    previewErase: (ctx) => previewErase(deps, ctx),
    ...(hasRestrict(config)
      ? { restrict: (ctx: ConnectorContext) => restrictRows(deps, ctx, 'restrict'), unrestrict: (ctx: ConnectorContext) => restrictRows(deps, ctx, 'unrestrict') }
      : {}),
    ...(hasOptOut(config) ? { optOut: (ctx: OptOutContext) => optOutRows(deps, ctx) } : {}),
    ...(config.retention?.length ? { sweep: (opts: { dryRun: boolean, now: Date, signal: AbortSignal }) => sweepRetention(db, config.retention!, opts) } : {}),
    close: () => db.close()
  }
}

async function health (db: SqlClient, callerSignal: AbortSignal): Promise<HealthResult> {
  const signal = AbortSignal.any([callerSignal, AbortSignal.timeout(HEALTH_TIMEOUT_MS)])
  const started = performance.now()
  try {
    const query = db.query('select 1', [], { signal })
    // A connection attempt that hangs does not see the cancel: stop waiting on the signal too.
    query.catch(() => {})
    await Promise.race([query, new Promise((_resolve, reject) => {
      if (signal.aborted) reject(signal.reason)
      signal.addEventListener('abort', () => reject(signal.reason), { once: true })
    })])
    return { status: 'ok', latencyMs: Math.round(performance.now() - started) }
  } catch (err) {
    const e = toConnectorError(err, 'health', signal)
    return { status: 'down', message: e.message, retryable: e.retryable }
  }
}

/** A foreign key the config does not follow: its rows are matched only if they identify the subject themselves. */
function warnUndeclaredForeignKeys (config: PostgresConfig, fks: Array<{ child: string, parent: string, name: string }>, log: ConnectorLogger): void {
  for (const d of config.datasets) {
    const inDataset = new Map(d.tables.map((t) => [t.table, t]))
    for (const fk of fks) {
      const child = inDataset.get(fk.child)
      if (!child) continue
      if (!inDataset.has(fk.parent)) {
        log.warn({ dataset: d.name, table: fk.child, parent: fk.parent, constraint: fk.name }, 'foreign key to a table of another dataset: erase order across datasets is config order')
      } else if (!child.references?.some((r) => r.table === fk.parent)) {
        log.debug({ dataset: d.name, table: fk.child, parent: fk.parent, constraint: fk.name }, 'foreign key not declared in references: used for erase order only')
      }
    }
  }
}
