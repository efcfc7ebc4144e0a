import { spawn } from 'node:child_process'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { ConfigError, EnvSchema, loadConfig } from '../../src/config.js'
import { parseConnectorFile } from '../../src/connectors/registry.js'
import { NO_CHILD_COVERAGE } from '../child-env.js'
import { ROOT, nodeArgs } from '../paths.js'

/**
 * The erasure-proof settings are checked at boot like the other secrets: a bad value stops the
 * service (exit 78) with a message that names the setting and never shows the value.
 */

const ed25519 = generateKeyPairSync('ed25519')
const PEM = ed25519.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
const JWK = JSON.stringify(ed25519.privateKey.export({ format: 'jwk' }))

const refused = (t: Test, env: Record<string, string>, pattern: RegExp, secret?: string) => {
  let message = ''
  t.throws(() => {
    try {
      loadConfig(env)
    } catch (err) {
      message = (err as Error).message
      throw err
    }
  }, ConfigError)
  t.match(message, pattern)
  if (secret) t.notOk(message.includes(secret), 'the value is not shown')
}

t.test('defaults', async (t) => {
  const config = loadConfig({})
  t.equal(config.BACKUP_RETENTION_DAYS, 35)
  t.equal(config.ERASURE_PROOF_CRON, '*/5 * * * *')
  t.equal(config.RECEIPT_SIGNING_KEY, undefined)
  t.equal(config.RECEIPT_HMAC_KEY, undefined)
  t.equal(config.BACKUP_TOMBSTONE_KEY, undefined)
})

t.test('RECEIPT_SIGNING_KEY: an Ed25519 private key as PKCS#8 PEM or JWK', async (t) => {
  t.equal(loadConfig({ RECEIPT_SIGNING_KEY: PEM }).RECEIPT_SIGNING_KEY, PEM, 'PEM')
  t.ok(loadConfig({ RECEIPT_SIGNING_KEY: PEM.replaceAll('\n', '\\n') }), 'PEM with its line breaks written as \\n (one env line)')
  t.ok(loadConfig({ RECEIPT_SIGNING_KEY: JWK }), 'a private JWK')
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const publicOnly = ed25519.publicKey.export({ type: 'spki', format: 'pem' }).toString()
  const publicJwk = JSON.stringify(ed25519.publicKey.export({ format: 'jwk' }))
  for (const [what, bad] of [['garbage', 'not-a-key-at-all-but-secret-text'], ['an RSA key', rsa], ['a public key', publicOnly], ['a public JWK', publicJwk]] as const) {
    t.test(what, async (t) => refused(t, { RECEIPT_SIGNING_KEY: bad }, /RECEIPT_SIGNING_KEY: must be an Ed25519 private key/, bad.slice(0, 40)))
  }
})

t.test('RECEIPT_HMAC_KEY and BACKUP_TOMBSTONE_KEY', async (t) => {
  refused(t, { RECEIPT_HMAC_KEY: 'short-hmac-secret' }, /RECEIPT_HMAC_KEY: must be at least 32 characters/, 'short-hmac-secret')
  t.ok(loadConfig({ RECEIPT_HMAC_KEY: 'x'.repeat(32) }))
  const key = randomBytes(32).toString('base64')
  t.equal(loadConfig({ BACKUP_TOMBSTONE_KEY: key }).BACKUP_TOMBSTONE_KEY, key)
  refused(t, { BACKUP_TOMBSTONE_KEY: randomBytes(16).toString('base64') }, /BACKUP_TOMBSTONE_KEY: must be 32 random bytes in base64/)
  refused(t, { BACKUP_TOMBSTONE_KEY: 'tombstone-secret-not-base64!!' }, /BACKUP_TOMBSTONE_KEY/, 'tombstone-secret-not-base64')
  refused(t, { BACKUP_TOMBSTONE_KEY: 'not-a-key', RECEIPT_HMAC_KEY: 'short' }, /BACKUP_TOMBSTONE_KEY[\s\S]*RECEIPT_HMAC_KEY|RECEIPT_HMAC_KEY[\s\S]*BACKUP_TOMBSTONE_KEY/)
})

t.test('BACKUP_RETENTION_DAYS and ERASURE_PROOF_CRON', async (t) => {
  t.equal(loadConfig({ BACKUP_RETENTION_DAYS: '0' }).BACKUP_RETENTION_DAYS, 0)
  t.equal(loadConfig({ BACKUP_RETENTION_DAYS: '400' }).BACKUP_RETENTION_DAYS, 400)
  refused(t, { BACKUP_RETENTION_DAYS: '-1' }, /BACKUP_RETENTION_DAYS="-1"/)
  refused(t, { BACKUP_RETENTION_DAYS: 'a month' }, /BACKUP_RETENTION_DAYS="a month"/)
  refused(t, { BACKUP_RETENTION_DAYS: '3651' }, /BACKUP_RETENTION_DAYS/)
  refused(t, { ERASURE_PROOF_CRON: 'hourly' }, /ERASURE_PROOF_CRON="hourly"/)
})

t.test('a connector\'s backup_retention_days', async (t) => {
  const entry = (days: unknown) => ({ connectors: [{ id: 'shop', driver: 'memory', backup_retention_days: days, settings: {} }] })
  t.equal(parseConnectorFile(entry(90)).connectors[0]!.backup_retention_days, 90)
  t.equal(parseConnectorFile({ connectors: [{ id: 'shop', driver: 'memory', settings: {} }] }).connectors[0]!.backup_retention_days, undefined)
  t.throws(() => parseConnectorFile(entry(-1)), { name: 'ConfigError', message: /connector "shop": \/backup_retention_days/ })
  t.throws(() => parseConnectorFile(entry('35')), { name: 'ConfigError', message: /connector "shop": \/backup_retention_days/ })
})

t.test('the server stops with exit 78 on a bad key, naming it without its value', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'dsr-receipt-config-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const key of Object.keys(EnvSchema.properties)) delete env[key]
  for (const key of Object.keys(env)) if (key === 'NODE_OPTIONS' || key.startsWith('TAP') || key.startsWith('_TAPJS_') || key.startsWith('TS_NODE_')) delete env[key]
  const secret = 'my-signing-secret-that-is-not-a-key'
  const child = spawn(process.execPath, nodeArgs('src/server.ts'), {
    cwd: ROOT,
    env: { ...env, ...NO_CHILD_COVERAGE, DATA_DIR: dataDir, PORT: '0', RECEIPT_SIGNING_KEY: secret },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  clearTimeout(timer)
  t.equal(code, 78, 'EX_CONFIG')
  t.match(stderr, /RECEIPT_SIGNING_KEY=\(secret\)|RECEIPT_SIGNING_KEY: must be an Ed25519 private key/)
  t.notOk(stderr.includes(secret), 'the value is not echoed')
})
