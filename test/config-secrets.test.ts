import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { EnvSchema } from '../src/config.js'
import { maskUrls, redactSecrets, SECRET_SETTINGS, URL_SETTINGS } from '../src/config-secrets.js'
import { NO_CHILD_COVERAGE } from './child-env.js'
import { ROOT, nodeArgs } from './paths.js'

/**
 * No secret in any message: every setting that can hold one is given a bad value carrying a marker,
 * the server (and migrate, for the database URL) is started with it, and the marker must appear in
 * neither stdout nor stderr, while the run still fails and names the setting where it is a
 * configuration error.
 */

t.setTimeout(300_000)
const MARK = 'Zq7MkX'
const dataDir = mkdtempSync(join(tmpdir(), 'dsr-secrets-'))
t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))

interface Case { setting: string, value: string, script?: 'src/server.ts' | 'src/cli/migrate.ts', names?: boolean }

const cases: Case[] = [
  { setting: 'DATABASE_URL', value: `mysql://app:${MARK}pw@db.example/dsr`, names: true },
  { setting: 'DATABASE_URL', value: `postgres://app:${MARK}pw@[::1/dsr`, names: false },
  { setting: 'DATABASE_URL', value: `postgres://app:${MARK}pw@127.0.0.1:1/dsr?sslmode=${MARK}`, names: false },
  { setting: 'DATABASE_URL', value: `mysql://app:${MARK}pw@db.example/dsr`, script: 'src/cli/migrate.ts', names: true },
  { setting: 'DATABASE_URL', value: `postgres://app:${MARK}pw@[::1/dsr`, script: 'src/cli/migrate.ts', names: false },
  { setting: 'DATABASE_URL', value: `postgres://app:${MARK}pw@127.0.0.1:1/dsr`, script: 'src/cli/migrate.ts', names: false },
  { setting: 'DEADLINE_WEBHOOK_URL', value: `ftp://hook:${MARK}pw@alerts.example/in`, names: true },
  { setting: 'DEADLINE_WEBHOOK_URL', value: `http://hook:${MARK}pw@alerts.example/in?token=${MARK}`, names: true },
  { setting: 'DEADLINE_WEBHOOK_SECRET', value: `${MARK}short`, names: true },
  { setting: 'METRICS_TOKEN', value: `${MARK}short`, names: true },
  { setting: 'API_KEYS', value: `not json ${MARK}`, names: true },
  { setting: 'API_KEYS', value: `[{"name":"x","scopes":["everything"],"key":"${MARK}-key-0000000000000000000"}]`, names: true },
  { setting: 'TRANSFER_SECRET_KEY', value: `${MARK}-not-a-key`, names: true },
  { setting: 'ARCHIVE_ENCRYPTION_KEY', value: `${MARK}-not-base64`, names: true },
  { setting: 'LINK_SIGNING_KEY', value: `${MARK}-short`, names: true },
  { setting: 'RECEIPT_SIGNING_KEY', value: `-----BEGIN PRIVATE KEY-----\\n${MARK}\\n-----END PRIVATE KEY-----`, names: true },
  { setting: 'RECEIPT_HMAC_KEY', value: `${MARK}-short`, names: true },
  { setting: 'BACKUP_TOMBSTONE_KEY', value: `${MARK}-not-base64`, names: true },
  { setting: 'CALLBACK_SIGNING_KEYS', value: `k1:${MARK}-short`, names: true },
  { setting: 'TRANSFER_ALLOWLIST', value: `https://u:${MARK}pw@partner.example`, names: true },
  { setting: 'CALLBACK_ALLOWLIST', value: `https://u:${MARK}pw@receiver.example`, names: true },
  { setting: 'SMTP_URL', value: `http://mailer:${MARK}pw@mail.example:465`, names: true },
  { setting: 'VERIFICATION_CODE_KEY', value: `${MARK}-short`, names: true },
  { setting: 'CONSOLE_SESSION_KEY', value: `${MARK}-not-base64`, names: true },
  { setting: 'OPENDSR_SIGNING_KEY', value: `-----BEGIN PRIVATE KEY-----\\n${MARK}\\n-----END PRIVATE KEY-----`, names: true },
  { setting: 'STORAGE_URL', value: `s3://key:${MARK}pw@bucket/prefix`, names: true },
  { setting: 'STORAGE_URL', value: `https://key:${MARK}pw@bucket.example/prefix?token=${MARK}`, names: true }
]

function cleanEnv (over: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const key of Object.keys(EnvSchema.properties)) delete env[key]
  for (const key of Object.keys(env)) {
    if (key === 'NODE_OPTIONS' || key === 'TAP' || key.startsWith('TAP_') || key.startsWith('_TAPJS_') || key.startsWith('TS_NODE_')) delete env[key]
  }
  // An unreachable database is waited for 1 s, not 60: the start goes through the waiting (and its
  // log lines) and then exits by itself.
  return { ...env, ...NO_CHILD_COVERAGE, DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'trace', DATABASE_START_WAIT_SECONDS: '1', ...over }
}

function run (script: string, env: Record<string, string>): Promise<{ code: number | null, output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, nodeArgs(script), { cwd: ROOT, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { output += d })
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { output += d })
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000)
    child.on('error', reject)
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, output }) })
  })
}

t.test('every setting that can hold a secret is among the cases', async (t) => {
  const covered = new Set(cases.map((c) => c.setting))
  for (const name of [...SECRET_SETTINGS, ...URL_SETTINGS]) t.ok(covered.has(name), `${name} is tried`)
})

t.test('a bad value of a secret setting fails the start without showing the secret', async (t) => {
  // Three at a time: each is a Node process starting tsx.
  const queue = [...cases]
  const results: Array<{ c: Case, code: number | null, output: string }> = []
  await Promise.all([0, 1, 2].map(async () => {
    for (let c = queue.shift(); c; c = queue.shift()) results.push({ c, ...await run(c.script ?? 'src/server.ts', { [c.setting]: c.value }) })
  }))
  for (const { c, code, output } of results) {
    const what = `${c.script ?? 'src/server.ts'} with a bad ${c.setting}`
    t.not(code, null, `${what} exits by itself`)
    t.not(code, 0, `${what} fails (${code})`)
    t.notOk(output.includes(MARK), `${what}: the marker is in no output`, { output: output.replaceAll(MARK, '<MARK>').slice(0, 2000) })
    if (c.names) t.ok(output.includes(c.setting), `${what}: the message names the setting`)
  }
})

t.test('redactSecrets masks secret values, URL passwords and queries', async (t) => {
  const env = { METRICS_TOKEN: 'metrics-token-0123456789', DATABASE_URL: 'postgres://app:p%40ss-word@db/dsr', CALLBACK_SIGNING_KEYS: 'k1:' + 's'.repeat(32) }
  const text = 'token metrics-token-0123456789, url postgres://app:p%40ss-word@db/dsr, decoded p@ss-word, key ' + 's'.repeat(32)
  const out = redactSecrets(text, env)
  for (const secret of ['metrics-token-0123456789', 'p%40ss-word', 'p@ss-word', 's'.repeat(32)]) t.notOk(out.includes(secret), `${secret} masked`)
  t.match(out, /postgres:\/\/app:\*\*\*@db\/dsr/, 'the URL keeps its user and host')
  t.equal(maskUrls('see https://alerts.example/hook?token=abc and x'), 'see https://alerts.example/hook?*** and x')
  t.equal(maskUrls('postgres://app:pw@[::1/dsr'), 'postgres://app:***@[::1/dsr', 'an invalid URL too')
})
