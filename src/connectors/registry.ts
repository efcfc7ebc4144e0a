import { readFileSync } from 'node:fs'
import { extname } from 'node:path'
import { Type, type Static } from 'typebox'
import { Value } from 'typebox/value'
import { parse as parseYaml } from 'yaml'
import { ConfigError } from '../config.js'
import type { DbHandle } from '../db/client.js'
import { methodsFor, TASK_ACTIONS, type Capability, type Connector, type ConnectorDefinition, type ConnectorLogger, type ErasureCheck, type TaskAction } from '../../connectors/types.js'
import { configureStreams, ProcessingSchema, type ConfiguredStream } from './processing.js'

/** Where a secret comes from: the name of an environment variable, never the value itself. */
const EnvRefSchema = Type.Object({ env: Type.String({ pattern: '^[A-Z_][A-Z0-9_]*$' }) }, { additionalProperties: false })

const perAction = (value: ReturnType<typeof Type.String>, description: string) => Type.Object(
  Object.fromEntries(TASK_ACTIONS.map((a) => [a, Type.Optional(value)])) as Record<TaskAction, ReturnType<typeof Type.Optional<typeof value>>>,
  { additionalProperties: false, default: {}, description })

/**
 * What people do on a system where its connector cannot: a manual task is planned for each action
 * a request needs that the connector lacks (or for every action, with `only`), carrying these
 * instructions, unless the action is marked not applicable to the system, with the reason.
 */
const ManualSchema = Type.Object({
  only: Type.Boolean({ default: false, description: 'A person does every action on this system, even those its connector could do' }),
  instructions: Type.Intersect([
    perAction(Type.String({ minLength: 1, maxLength: 4000 }), 'Per action: what a person does in the system'),
    Type.Object({ default: Type.Optional(Type.String({ minLength: 1, maxLength: 4000, description: 'For any action without its own' })) })
  ], { default: {} }),
  not_applicable: perAction(Type.String({ minLength: 1, maxLength: 500 }), 'Per action: why it does not apply to this system (no task is planned)')
}, { additionalProperties: false })

export const ConnectorFileSchema = Type.Object({
  connectors: Type.Array(Type.Object({
    id: Type.String({ pattern: '^[a-z][a-z0-9_]{0,39}$', description: 'Stable id: stored with tasks and used in archive paths' }),
    driver: Type.String({ minLength: 1 }),
    enabled: Type.Boolean({ default: true }),
    display_name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    concurrency: Type.Integer({ minimum: 1, maximum: 64, default: 2, description: 'Tasks run at once per worker process' }),
    timeout_seconds: Type.Integer({ minimum: 1, maximum: 21_600, default: 900 }),
    max_attempts: Type.Integer({ minimum: 1, maximum: 50, default: 6 }),
    health_check_seconds: Type.Integer({ minimum: 10, maximum: 86_400, default: 300, description: 'How often the scheduler checks its health' }),
    required: Type.Boolean({ default: false, description: 'When down, /health/ready answers 503' }),
    backup_retention_days: Type.Optional(Type.Integer({
      minimum: 0, maximum: 3650, description: 'How long backups of this system are kept (BACKUP_RETENTION_DAYS otherwise)'
    })),
    settings: Type.Record(Type.String(), Type.Unknown(), { default: {} }),
    /**
     * What the system does with each stream's data (purposes, legal basis, recipients, retention,
     * source, countries, automated decisions): given to the person with their data. Every stream
     * needs purposes and a retention rule, here or under `streams.<name>`.
     */
    processing: Type.Optional(ProcessingSchema),
    manual: Type.Optional(ManualSchema)
  }, { additionalProperties: false }))
}, { additionalProperties: false })

export type ConnectorEntry = Static<typeof ConnectorFileSchema>['connectors'][number]

/** One configured, running connector. */
export interface ConnectorInstance {
  id: string
  driver: string
  displayName: string
  version: number
  capabilities: readonly Capability[]
  streams: readonly ConfiguredStream[]
  /** Whether an erasure here is checked by searching again (the driver's declaration; never without collect). */
  erasureCheck: ErasureCheck
  concurrency: number
  timeoutMs: number
  maxAttempts: number
  /** How often the scheduled health job checks it. */
  healthCheckSeconds: number
  /** A required connector that is down makes the service not ready. */
  required: boolean
  /** How long backups of this system are kept, when its entry says (BACKUP_RETENTION_DAYS otherwise). */
  backupRetentionDays?: number
  /** What people do where the connector cannot (see ManualSchema); null when the file says nothing. */
  manual: ManualWork | null
  connector: Connector
}

export interface ManualWork {
  only: boolean
  instructions: Partial<Record<TaskAction | 'default', string>>
  notApplicable: Partial<Record<TaskAction, string>>
}

export type ConnectorRegistry = ReadonlyMap<string, ConnectorInstance>

/** Reads a connector file (JSON, or YAML by extension) and checks its outer shape. */
export function readConnectorFile (path: string): Static<typeof ConnectorFileSchema> {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new ConfigError(`CONNECTORS_FILE: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
  }
  let parsed: unknown
  try {
    parsed = ['.yaml', '.yml'].includes(extname(path)) ? parseYaml(text) : JSON.parse(text)
  } catch (err) {
    throw new ConfigError(`CONNECTORS_FILE: ${path} does not parse: ${(err as Error).message}`)
  }
  return parseConnectorFile(parsed, path)
}

export function parseConnectorFile (parsed: unknown, source = 'connector file'): Static<typeof ConnectorFileSchema> {
  const value = Value.Default(ConnectorFileSchema, Value.Clone(parsed))
  const errors = [...Value.Errors(ConnectorFileSchema, value)]
  if (errors.length > 0) {
    throw new ConfigError(`${source}: ${errors.slice(0, 5).map((e) => `${describePath(value, e.instancePath)} ${e.message}`).join('; ')}`)
  }
  const ids = new Set<string>()
  for (const c of (value as Static<typeof ConnectorFileSchema>).connectors) {
    if (ids.has(c.id)) throw new ConfigError(`${source}: connector "${c.id}" is listed twice`)
    ids.add(c.id)
  }
  return value as Static<typeof ConnectorFileSchema>
}

/** Names the connector in an error path: /connectors/2/settings/url → connector "crm": /settings/url. */
function describePath (value: unknown, path: string): string {
  const m = /^\/connectors\/(\d+)(.*)$/.exec(path)
  const id = m ? (value as { connectors?: Array<{ id?: unknown }> }).connectors?.[Number(m[1])]?.id : undefined
  return m ? `connector ${typeof id === 'string' ? `"${id}"` : `#${m[1]}`}: ${m[2] || '/'}` : path || '/'
}

/**
 * Validates each enabled connector's settings against its driver's schema, resolves secrets from
 * the environment, and creates the connectors. Any problem stops boot with the connector and field named.
 */
export async function createRegistry (
  file: Static<typeof ConnectorFileSchema>,
  opts: {
    drivers: readonly ConnectorDefinition<any>[]
    env: Record<string, string | undefined>
    log: ConnectorLogger & { child?: (b: object) => ConnectorLogger }
    /** The service's database, for `embedded:` connectors: they are given the client it is built on. */
    serviceDatabase?: DbHandle
  }
): Promise<Map<string, ConnectorInstance>> {
  const registry = new Map<string, ConnectorInstance>()
  for (const entry of file.connectors) {
    if (!entry.enabled) continue
    const def = opts.drivers.find((d) => d.driver === entry.driver)
    if (!def) {
      throw new ConfigError(`connector "${entry.id}": unknown driver "${entry.driver}" (known: ${opts.drivers.map((d) => d.driver).join(', ')})`)
    }
    const settings = resolveSecrets(entry, def, opts.env)
    const withDefaults = Value.Default(def.configSchema, settings)
    const errors = [...Value.Errors(def.configSchema, withDefaults)]
    if (errors.length > 0) {
      throw new ConfigError(`connector "${entry.id}": ${errors.slice(0, 5).map((e) => `/settings${e.instancePath} ${e.message}`).join('; ')}`)
    }
    // Checked before the connector is made: a stream the law's information is missing for stops boot.
    const streams = configureStreams(entry.id, def.streamsFor ? def.streamsFor(withDefaults) : def.streams, entry.processing)
    const log = opts.log.child ? opts.log.child({ connector: entry.id }) : opts.log
    const connector = await def.create(withDefaults, { log, fetch: globalThis.fetch, ...(opts.serviceDatabase ? { serviceDatabase: opts.serviceDatabase.raw } : {}) })
    // Some capabilities depend on the settings (a Postgres table with a restrict column, say).
    const declared = def.capabilitiesFor?.(withDefaults) ?? def.capabilities
    // 'retention' without `sweep` is dropped below, not refused: a driver may sweep only with some settings.
    for (const capability of declared.filter((c) => c !== 'retention')) {
      const missing = methodsFor(capability).filter((m) => typeof connector[m] !== 'function')
      if (missing.length > 0) {
        throw new ConfigError(`driver "${def.driver}" declares ${capability} but does not implement ${missing.join(' and ')}`)
      }
    }
    registry.set(entry.id, {
      id: entry.id,
      driver: def.driver,
      displayName: entry.display_name ?? def.displayName,
      version: def.version,
      // 'retention' only where there are rules to enforce (the connector then implements sweep).
      capabilities: declared.filter((c) => c !== 'retention' || typeof connector.sweep === 'function'),
      streams,
      erasureCheck: def.erasureCheck.searchable && !declared.includes('collect')
        ? { searchable: false, reason: 'this connector cannot search the system (it has no collect capability)' }
        : def.erasureCheck,
      concurrency: entry.concurrency,
      timeoutMs: entry.timeout_seconds * 1000,
      maxAttempts: entry.max_attempts,
      healthCheckSeconds: entry.health_check_seconds,
      required: entry.required,
      ...(entry.backup_retention_days !== undefined ? { backupRetentionDays: entry.backup_retention_days } : {}),
      manual: entry.manual
        ? { only: entry.manual.only, instructions: entry.manual.instructions, notApplicable: entry.manual.not_applicable }
        // A system no connector reaches: a person does everything there.
        : def.capabilities.length === 0 ? { only: true, instructions: {}, notApplicable: {} } : null,
      connector
    })
  }
  return registry
}

/**
 * Replaces `{ "env": "NAME" }` references with the variable's value. Secret fields must be
 * references: a literal secret in the file is refused, so secrets never sit in it.
 */
function resolveSecrets (entry: ConnectorEntry, def: ConnectorDefinition<any>, env: Record<string, string | undefined>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [field, value] of Object.entries(entry.settings)) {
    const isRef = Value.Check(EnvRefSchema, value)
    if (def.secretFields.includes(field) && !isRef && !isEmbedded(value)) {
      throw new ConfigError(`connector "${entry.id}": /settings/${field} is a secret: give { "env": "VARIABLE" }, not the value`)
    }
    if (isRef) {
      const name = (value as { env: string }).env
      const resolved = env[name]
      if (resolved === undefined || resolved === '') {
        throw new ConfigError(`connector "${entry.id}": /settings/${field} needs environment variable ${name}, which is not set`)
      }
      out[field] = resolved
    } else {
      out[field] = value
    }
  }
  return out
}

/** `embedded:` is not a secret: it points at the service's own database (sample systems). */
function isEmbedded (value: unknown): boolean {
  return value === 'embedded:'
}

export async function closeRegistry (registry: ConnectorRegistry): Promise<void> {
  await Promise.allSettled([...registry.values()].map((c) => c.connector.close?.()))
}
