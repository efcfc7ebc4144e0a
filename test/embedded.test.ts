import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { EnvSchema } from '../src/config.js'

/**
 * The zero-setup default, as a newcomer gets it: `src/server.ts` with no DATABASE_URL and no keys
 * starts an embedded database in DATA_DIR, prints a development key once, and keeps its data across
 * restarts. Always embedded, whatever DATABASE_URL the test run has.
 */

// Two cold starts of an embedded database on a busy two-core machine.
t.setTimeout(300_000)

const root = fileURLToPath(new URL('..', import.meta.url))
const READY_TIMEOUT_MS = 90_000
const EXIT_TIMEOUT_MS = 15_000

const dataDir = mkdtempSync(join(tmpdir(), 'dsr-embedded-'))
const servers = new Set<ChildProcess>()
t.teardown(() => {
  for (const child of servers) child.kill('SIGKILL')
  rmSync(dataDir, { recursive: true, force: true })
})

async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise((resolve) => server.close(resolve))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

/** A shell with none of the service's settings and none of the test runner's hooks. */
function newcomerEnv (port: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const key of Object.keys(EnvSchema.properties)) delete env[key] // DATABASE_URL, API_KEYS, API_KEYS_FILE, …
  for (const key of Object.keys(env)) {
    if (key === 'NODE_OPTIONS' || key === 'TAP' || key.startsWith('TAP_') || key.startsWith('_TAPJS_') || key.startsWith('TS_NODE_')) delete env[key]
  }
  return { ...env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir }
}

interface Server {
  base: string
  output: () => string
  stdout: () => string
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  child: ChildProcess
}

async function start (): Promise<Server> {
  const port = await freePort()
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: root, env: newcomerEnv(port), stdio: ['ignore', 'pipe', 'pipe']
  })
  servers.add(child)
  let stdout = ''
  let all = ''
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; all += d })
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { all += d })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => { servers.delete(child); resolve({ code, signal }) })
  })
  return { base: `http://127.0.0.1:${port}`, output: () => all, stdout: () => stdout, exited, child }
}

/** Polls /health/ready until 200 (and `until` holds); fails early if the process dies. */
async function waitReady (server: Server, until: () => boolean = () => true): Promise<void> {
  let gone = false
  void server.exited.then(() => { gone = true })
  const deadline = Date.now() + READY_TIMEOUT_MS
  while (Date.now() < deadline) {
    if (gone) throw new Error(`server exited before it was ready:\n${server.output()}`)
    try {
      const res = await fetch(`${server.base}/health/ready`, { signal: AbortSignal.timeout(5_000) })
      if (res.status === 200 && until()) return
    } catch {
      // not listening yet
    }
    await sleep(250)
  }
  throw new Error(`not ready after ${READY_TIMEOUT_MS} ms:\n${server.output()}`)
}

async function stop (t: { ok: (v: unknown, m: string) => void, strictSame: (a: unknown, b: unknown, m: string) => void }, server: Server): Promise<void> {
  const t0 = Date.now()
  server.child.kill('SIGTERM')
  const result = await Promise.race([server.exited, sleep(EXIT_TIMEOUT_MS).then(() => 'timeout' as const)])
  t.ok(result !== 'timeout', `exits within ${EXIT_TIMEOUT_MS / 1000} s of SIGTERM (took ${Date.now() - t0} ms)`)
  if (result === 'timeout') server.child.kill('SIGKILL')
  else t.strictSame(result, { code: 0, signal: null }, 'exit code 0')
}

t.test('embedded database: first start, restart, same key and data', async (t) => {
  const email = `newcomer.${randomBytes(4).toString('hex')}@example.com`

  // First start: the key is printed once.
  const first = await start()
  let key = ''
  await waitReady(first, () => {
    key = /export DSR_KEY=(\S+)/.exec(first.stdout())?.[1] ?? ''
    return key !== ''
  })
  t.match(key, /^dsr_[A-Za-z0-9_-]{43}$/, 'a development key is printed')
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' }

  t.equal((await fetch(`${first.base}/v1/requests`)).status, 401, 'the API needs the key')
  const created = await fetch(`${first.base}/v1/requests`, {
    method: 'POST', headers, body: JSON.stringify({ type: 'access', regime: 'gdpr', subject: { email } })
  })
  t.equal(created.status, 202, 'the printed key can create a request')
  const request = await created.json() as { id: string, status: string, due_at: string, subject: { email: string } }
  t.equal(request.status, 'received')
  t.equal(request.subject.email, email)

  const got = await fetch(`${first.base}/v1/requests/${request.id}`, { headers })
  t.equal(got.status, 200)
  const before = await got.json() as typeof request
  t.match(before, request, 'GET returns what POST returned')

  await stop(t, first)

  // Second start on the same DATA_DIR: no new key, the old one works, the data is there.
  const second = await start()
  await waitReady(second)
  const after = await fetch(`${second.base}/v1/requests/${request.id}`, { headers })
  t.equal(after.status, 200, 'the same key still works after a restart')
  const again = await after.json() as typeof request
  t.equal(again.status, before.status)
  t.equal(again.due_at, before.due_at)
  t.strictSame(again.subject, before.subject)
  t.strictSame(again, before, 'the request survived the restart unchanged')

  await stop(t, second)
  t.notMatch(second.stdout(), /DSR_KEY/, 'the key is not printed a second time')

  // Logs: the subject's e-mail never; the key only in the one banner line.
  const logs = first.output() + second.output()
  t.notOk(logs.includes(email), 'the subject e-mail never appears in the output')
  const linesWithKey = logs.split('\n').filter((line) => line.includes(key))
  t.strictSame(linesWithKey, [`  export DSR_KEY=${key}`], 'the key appears only in the export banner line')
  t.ok(logs.includes('"msg"'), 'the server did write log lines (so the checks above looked at something)')
})
