import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import postgres from 'postgres'
import { sql } from 'drizzle-orm'
import { EnvSchema } from '../src/config.js'
import { openDb } from '../src/db/client.js'
import { NO_CHILD_COVERAGE } from './child-env.js'
import { ROOT, nodeArgs } from './paths.js'

// Child processes start tsx and, for migrate, a database: give the file room on a busy machine.
t.setTimeout(300_000)

const children = new Set<ChildProcess>()
t.teardown(() => { for (const child of children) child.kill('SIGKILL') })

/**
 * The environment a newcomer's shell would have: none of the service's settings, and none of the
 * test runner's hooks (tap preloads its process-info loader through NODE_OPTIONS).
 */
function cleanEnv (over: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const key of Object.keys(EnvSchema.properties)) delete env[key]
  for (const key of Object.keys(env)) {
    if (key === 'NODE_OPTIONS' || key === 'TAP' || key.startsWith('TAP_') || key.startsWith('_TAPJS_') || key.startsWith('TS_NODE_')) delete env[key]
  }
  return { ...env, ...NO_CHILD_COVERAGE, ...over }
}

interface Run { code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }

/** Runs `node --import tsx <script>` from the repository's root; killed if it outlives `timeoutMs`. */
function run (script: string, env: Record<string, string>, timeoutMs = 90_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, nodeArgs(script), { cwd: ROOT, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
    children.add(child)
    let stdout = ''
    let stderr = ''
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d })
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      children.delete(child)
      resolve({ code, signal, stdout, stderr })
    })
  })
}

const STACK_FRAME = /^\s+at .+[(:]/m

function tmpDataDir (t: { teardown: (fn: () => unknown) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'dsr-cli-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

t.test('the server refuses bad configuration with exit 78, naming every bad variable', async (t) => {
  const res = await run('src/server.ts', { PORT: 'abc', LOG_LEVEL: 'loud', DATA_DIR: tmpDataDir(t) })
  t.equal(res.code, 78, 'EX_CONFIG')
  t.match(res.stderr, /Invalid configuration/)
  t.match(res.stderr, /PORT="abc"/, 'names PORT and its value')
  t.match(res.stderr, /LOG_LEVEL="loud"/, 'names LOG_LEVEL and its value')
  t.notMatch(res.stderr, STACK_FRAME, 'no stack trace')
  t.notMatch(res.stderr, /ConfigError/, 'no error class, just the message')
  t.equal(res.stdout, '', 'nothing on stdout')
})

t.test('the server refuses API_KEYS that are not JSON', async (t) => {
  const res = await run('src/server.ts', { API_KEYS: 'not json', DATA_DIR: tmpDataDir(t), PORT: '0', HOST: '127.0.0.1' })
  t.not(res.code, 0)
  t.equal(res.code, 78, 'a configuration error, not a crash')
  t.match(res.stderr, /API_KEYS/)
  t.match(res.stderr, /not valid JSON/)
  t.notMatch(res.stderr, STACK_FRAME, 'no stack trace')
  t.notMatch(res.stdout, /DSR_KEY/, 'no development key is issued')
})

t.test('migrate applies the migrations to a fresh database', async (t) => {
  const adminUrl = process.env.DATABASE_URL
  if (adminUrl) {
    const name = `dsr_cli_${randomBytes(6).toString('hex')}`
    const admin = postgres(adminUrl, { max: 1, onnotice: () => {} })
    await admin.unsafe(`create database ${name}`)
    t.teardown(async () => {
      await admin.unsafe(`drop database if exists ${name} with (force)`)
      await admin.end()
    })
    const url = new URL(adminUrl)
    url.pathname = `/${name}`

    // Started before it is migrated, the service says what to run, and exits (no stack trace, no URL).
    const early = await run('src/server.ts', { DATABASE_URL: url.toString(), PORT: '0', HOST: '127.0.0.1' })
    t.equal(early.code, 78, 'an unmigrated database stops the start (EX_CONFIG)')
    t.match(early.stderr, /not migrated.*npm run migrate/s)
    t.notMatch(early.stderr, STACK_FRAME, 'no stack trace')
    t.notOk(early.stderr.includes(name), 'the database URL is not shown')

    const res = await run('src/cli/migrate.ts', { DATABASE_URL: url.toString() })
    t.equal(res.code, 0, res.stderr)
    t.match(res.stdout, /migrations applied \(postgres\)/)

    const db = postgres(url.toString(), { max: 1, onnotice: () => {} })
    t.teardown(() => db.end())
    const tables = await db<Array<{ name: string | null }>>`
      select to_regclass('public.requests')::text as name
      union all select to_regclass('public.request_events')::text
      union all select to_regclass('drizzle.__drizzle_migrations')::text`
    t.strictSame(tables.map((r) => r.name), ['requests', 'request_events', 'drizzle.__drizzle_migrations'])
    await db.end()

    const again = await run('src/cli/migrate.ts', { DATABASE_URL: url.toString() })
    t.equal(again.code, 0, 'running it again is a no-op')
  } else {
    const dataDir = tmpDataDir(t)
    const res = await run('src/cli/migrate.ts', { DATA_DIR: dataDir })
    t.equal(res.code, 0, res.stderr)
    t.match(res.stdout, /migrations applied \(pglite\)/)

    const dbh = await openDb({ dataDir: join(dataDir, 'pglite') })
    t.teardown(() => dbh.close())
    const tables = await dbh.rows<{ name: string | null }>(sql`
      select to_regclass('public.requests')::text as name
      union all select to_regclass('public.request_events')::text
      union all select to_regclass('drizzle.__drizzle_migrations')::text`)
    t.strictSame(tables.map((r) => r.name), ['requests', 'request_events', 'drizzle.__drizzle_migrations'])
  }
})

// Needs only the Postgres server on this machine, which both test modes have, so it runs in both.
t.test('migrate fails with a non-zero exit when the database does not exist', async (t) => {
  const name = `dsr_does_not_exist_${randomBytes(6).toString('hex')}`
  const res = await run('src/cli/migrate.ts', { DATABASE_URL: `postgres://root@127.0.0.1:5432/${name}` })
  t.not(res.code, 0)
  t.equal(res.code, 1)
  t.match(res.stderr, /migration failed/)
  t.match(res.stderr, name, 'says which database')
  t.notMatch(res.stdout, /migrations applied/)
})

t.test('.env.example lists every setting, and nothing else', async (t) => {
  const text = readFileSync(join(ROOT, '.env.example'), 'utf8')
  const listed = [...text.matchAll(/^#? ?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]!)
  const settings = Object.keys(EnvSchema.properties)
  t.same(settings.filter((s) => !listed.includes(s)), [], 'every setting is listed')
  t.same(listed.filter((s) => !settings.includes(s)), [], 'no setting the service does not read')
  t.equal(new Set(listed).size, listed.length, 'each once')
})
