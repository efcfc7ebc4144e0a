import { createHash, randomBytes } from 'node:crypto'
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { Writable } from 'node:stream'
import postgres from 'postgres'
import pino from 'pino'
import { buildApp } from '../src/app.js'
import { loadConfig, type Config } from '../src/config.js'
import { migrationsFolder, openDb, type DbHandle } from '../src/db/client.js'
import { hashKey, type KeyRecord, type Scope } from '../src/services/api-keys.js'
import { loggerOptions } from '../src/logger.js'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLocalBlobStore, type BlobStore } from '../src/storage/blob-store.js'
import { createRegistry, parseConnectorFile, type ConnectorRegistry } from '../src/connectors/registry.js'
import { postgresTemplate } from './db-template.js'
import { drivers } from '../connectors/index.js'
import type { HostResolver } from '../src/transfers/addresses.js'

type Tap = { teardown: (fn: () => unknown) => void, passing?: () => boolean }

/**
 * A fresh, migrated database for one test file: a new database on the Postgres server named by
 * DATABASE_URL when it is set (dropped afterwards unless the file failed, for inspection), or an
 * in-memory PGlite otherwise (or when `embedded` asks for it).
 */
export async function testDb (t: Tap, opts: { migrate?: boolean, embedded?: boolean } = {}): Promise<DbHandle & { url?: string }> {
  const adminUrl = opts.embedded ? undefined : process.env.DATABASE_URL
  let dbh: DbHandle & { url?: string }
  // Apps built on this database close first, so nothing they run in the background meets a closed pool.
  const users: Array<() => Promise<unknown>> = []
  const closeUsers = async () => { for (const close of users.splice(0)) await close() }
  if (adminUrl) {
    const name = `dsr_test_${randomBytes(6).toString('hex')}`
    const admin = postgres(adminUrl, { max: 1, onnotice: () => {} })
    // A migrated database is a copy of the suite's template (test/db-template.ts); an unmigrated one is new.
    const template = opts.migrate === false ? '' : ` template ${await postgresTemplate(admin, adminUrl)}`
    await admin.unsafe(`create database ${name}${template}`)
    const url = new URL(adminUrl)
    url.pathname = `/${name}`
    dbh = Object.assign(await openDb({ url: url.toString(), maxConnections: 10 }), { url: url.toString() })
    t.teardown(async () => {
      await closeUsers()
      await dbh.close()
      if (!t.passing || t.passing()) await admin.unsafe(`drop database if exists ${name} with (force)`)
      await admin.end()
    })
  } else if (opts.migrate === false) {
    dbh = await openDb({ dataDir: 'memory://' })
    t.teardown(async () => { await closeUsers(); await dbh.close() })
    return Object.assign(dbh, { closeFirst: (fn: () => Promise<unknown>) => users.push(fn) })
  } else {
    dbh = await openDb({ dataDir: 'memory://', loadDataDir: await migratedPgliteTemplate() })
    t.teardown(async () => { await closeUsers(); await dbh.close() })
  }
  if (opts.migrate !== false) await dbh.migrate()
  return Object.assign(dbh, { closeFirst: (fn: () => Promise<unknown>) => users.push(fn) })
}

/**
 * A migrated embedded database as a tarball, made once per set of migrations and shared by every
 * test file through the OS temp dir: starting from it takes a fraction of initialising and migrating.
 * It is not compressed: unpacking a gzipped one cost each start a few hundred milliseconds of CPU.
 */
let pgliteTemplate: Promise<Blob> | undefined
function migratedPgliteTemplate (): Promise<Blob> {
  return (pgliteTemplate ??= (async () => {
    const journal = readFileSync(join(migrationsFolder, 'meta', '_journal.json'))
    const file = join(tmpdir(), `dsr-pglite-template-${createHash('sha256').update(journal).digest('hex').slice(0, 16)}.tar`)
    if (!existsSync(file)) {
      const dbh = await openDb({ dataDir: 'memory://' })
      await dbh.migrate()
      if (dbh.raw.kind !== 'pglite') throw new Error('expected an embedded database')
      const dump = await dbh.raw.pg.dumpDataDir('none')
      await dbh.close()
      const partial = `${file}.${process.pid}.partial`
      writeFileSync(partial, Buffer.from(await dump.arrayBuffer()))
      renameSync(partial, file) // atomic: files racing to make it each write their own, one wins
    }
    return new Blob([readFileSync(file)])
  })())
}

/** API keys every test app accepts, one per role. */
export const KEYS = {
  admin: 'test-admin-key-000000000000000000',
  writer: 'test-writer-key-00000000000000000',
  reader: 'test-reader-key-00000000000000000',
  outsider: 'test-outsider-key-000000000000000'
} as const

const KEY_SCOPES: Record<keyof typeof KEYS, Scope[]> = {
  admin: ['admin'],
  writer: ['requests:write', 'requests:read'],
  reader: ['requests:read'],
  outsider: ['connectors:read']
}

export function testKeys (): Map<string, KeyRecord> {
  return new Map(Object.entries(KEYS).map(([name, key]) => [hashKey(key), { name, scopes: KEY_SCOPES[name as keyof typeof KEYS] }]))
}

export const auth = (who: keyof typeof KEYS = 'admin') => ({ authorization: `Bearer ${KEYS[who]}` })

export interface BuildOptions {
  dbh?: DbHandle
  registry?: ConnectorRegistry
  env?: Record<string, string>
  /** Receives every log line the app writes, at level `info` or below. */
  logs?: string[]
  /** DNS for direct transfers (the system resolver otherwise). */
  resolveHost?: HostResolver
  /** The API keys the app accepts (testKeys() otherwise). */
  apiKeys?: Map<string, KeyRecord>
  /** Where the app keeps its blobs (testStorage() otherwise). */
  storage?: BlobStore
}

/** Builds the real app on a real database and closes it when the test ends. */
export async function build (t: Tap, opts: BuildOptions = {}) {
  const dbh = opts.dbh ?? await testDb(t)
  // Scheduled jobs are driven by hand (scheduler.tick) in the tests that need them: a cron tick landing
  // during a test, or its teardown, would only add timing the test does not control.
  const config: Config = loadConfig({ LOG_LEVEL: opts.logs ? 'trace' : 'silent', SCHEDULER_ENABLED: 'false', ...opts.env })
  // Starting the engine (pg-boss, its queues' tables) can take longer than fastify's 10 s on a
  // loaded machine running several files at once: a slow start is not what a test is about.
  const overrides = { pluginTimeout: 120_000, ...(opts.logs ? { loggerInstance: captureLogger(config, opts.logs) } : {}) }
  const app = await buildApp({
    config,
    dbh,
    apiKeys: opts.apiKeys ?? testKeys(),
    storage: opts.storage ?? await testStorage(t),
    ...(opts.registry ? { registry: opts.registry } : {}),
    ...(opts.resolveHost ? { resolveHost: opts.resolveHost } : {})
  }, overrides)
  let closed: Promise<unknown> | undefined
  const close = () => (closed ??= app.close())
  ;(dbh as { closeFirst?: (fn: () => Promise<unknown>) => void }).closeFirst?.(close)
  t.teardown(close)
  await app.ready()
  return Object.assign(app, { dbh })
}

let s3Server: Promise<import('./storage/s3-server.js').TestS3Server> | undefined

/**
 * Where a test app keeps its blobs: a fresh local directory, or with DSR_TEST_STORAGE=s3 a fresh
 * prefix of an S3-compatible server (s3rver, one per test file, started on first use), so that
 * every test of the app can be run against either backend.
 */
async function testStorage (t: Tap): Promise<BlobStore> {
  if (process.env.DSR_TEST_STORAGE === 's3') {
    const [{ startS3Server }, { createS3BlobStore }] = await Promise.all([import('./storage/s3-server.js'), import('../src/storage/s3-blob-store.js')])
    const s3 = await (s3Server ??= startS3Server({ detached: true }))
    const store = createS3BlobStore({ url: `s3://${s3.bucket}/t${randomBytes(6).toString('hex')}`, clientConfig: s3.clientConfig })
    t.teardown(() => store.close?.())
    return store
  }
  const storageDir = await mkdtemp(join(tmpdir(), 'dsr-storage-'))
  t.teardown(() => rm(storageDir, { recursive: true, force: true }))
  return createLocalBlobStore(storageDir)
}

function captureLogger (config: Config, lines: string[]) {
  const sink = new Writable({
    write (chunk, _enc, cb) {
      lines.push(chunk.toString())
      cb()
    }
  })
  const { level, redact, serializers } = loggerOptions(config) as pino.LoggerOptions
  return pino({ level, redact, serializers } as pino.LoggerOptions, sink)
}

/** A valid request body, to be varied by each test. */
export function requestBody (over: Record<string, unknown> = {}) {
  return {
    type: 'access',
    subject: { email: 'ada.lovelace@example.com' },
    regime: 'gdpr',
    ...over
  }
}

const quietLog = { debug () {}, info () {}, warn () {}, error () {} }

/** The least a connector entry must say of what is done with its data: purposes and a retention rule. */
export const TEST_PROCESSING = { purposes: ['Testing the service'], retention: { rule: 'Deleted when the test ends' } }

/** Connector entries, each given TEST_PROCESSING unless it says what is done with its data itself. */
export function described<T> (connectors: T[]): T[] {
  return connectors.map((c) => ({ processing: TEST_PROCESSING, ...c }))
}

/** A connector file's content, parsed as boot parses it, each entry given TEST_PROCESSING unless it has its own. */
export function describedFile (file: { connectors: unknown[] }) {
  return parseConnectorFile({ ...file, connectors: described(file.connectors) })
}

/** A registry built from a connector file's `connectors` list, exactly as boot builds it (TEST_PROCESSING where an entry has none). */
export async function registryOf (connectors: unknown[], env: Record<string, string> = {}): Promise<ConnectorRegistry> {
  return createRegistry(describedFile({ connectors }), { drivers, env, log: quietLog })
}

/** Polls until `check` returns a truthy value (or fails the wait after `timeoutMs`). */
export async function waitFor<T> (check: () => Promise<T | null | undefined | false>, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/**
 * A check that cannot run here (its prerequisite is missing) is reported as a skip, with the reason,
 * unless this run must include it: DSR_REQUIRED_CHECKS (comma-separated, set by .ci/run) names the
 * checks that must run, and then the missing prerequisite fails the file instead.
 */
export function skipUnlessRequired (t: { test: (name: string, opts: { skip: string }, fn: () => void) => unknown, fail: (message: string) => unknown }, check: 'contracts' | 'browser' | 'chaos', name: string, reason: string): void {
  const required = (process.env.DSR_REQUIRED_CHECKS ?? '').split(',').map((s) => s.trim()).includes(check)
  if (required) t.fail(`${name}: required in this run (DSR_REQUIRED_CHECKS=${process.env.DSR_REQUIRED_CHECKS}), but ${reason}`)
  else t.test(name, { skip: reason }, () => {})
}
