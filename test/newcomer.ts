import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { EnvSchema } from '../src/config.js'
import { NO_CHILD_COVERAGE } from './child-env.js'
import { ROOT, nodeArgs } from './paths.js'

/**
 * The service as a newcomer runs it: a real process from a shell with none of the service's settings
 * and none of the test runner's hooks, on a free port, with its own DATA_DIR.
 */

const READY_TIMEOUT_MS = 90_000
const EXIT_TIMEOUT_MS = 15_000
const servers = new Set<ChildProcess>()

/** Kills whatever is still running (for a teardown). */
export function killAll (): void {
  for (const child of servers) child.kill('SIGKILL')
}

async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise((resolve) => server.close(resolve))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

function newcomerEnv (port: number, dataDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const key of Object.keys(EnvSchema.properties)) delete env[key] // DATABASE_URL, API_KEYS, API_KEYS_FILE, …
  for (const key of Object.keys(env)) {
    if (key === 'NODE_OPTIONS' || key === 'TAP' || key.startsWith('TAP_') || key.startsWith('_TAPJS_') || key.startsWith('TS_NODE_')) delete env[key]
  }
  return { ...env, ...NO_CHILD_COVERAGE, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir }
}

export interface Server {
  base: string
  output: () => string
  stdout: () => string
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  child: ChildProcess
}

/** Starts `script` (a TypeScript entry, run through tsx) with DATA_DIR and a free PORT. */
export async function start (dataDir: string, script = 'src/server.ts', extraEnv: Record<string, string> = {}): Promise<Server> {
  const port = await freePort()
  const child = spawn(process.execPath, nodeArgs(script), {
    cwd: ROOT, env: { ...newcomerEnv(port, dataDir), ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe']
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
export async function waitReady (server: Server, until: () => boolean = () => true): Promise<void> {
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

/** SIGTERM, then checks a clean exit in time. */
export async function stop (t: { ok: (v: unknown, m: string) => void, strictSame: (a: unknown, b: unknown, m: string) => void }, server: Server): Promise<void> {
  const t0 = Date.now()
  server.child.kill('SIGTERM')
  const result = await Promise.race([server.exited, sleep(EXIT_TIMEOUT_MS).then(() => 'timeout' as const)])
  t.ok(result !== 'timeout', `exits within ${EXIT_TIMEOUT_MS / 1000} s of SIGTERM (took ${Date.now() - t0} ms)`)
  if (result === 'timeout') server.child.kill('SIGKILL')
  else t.strictSame(result, { code: 0, signal: null }, 'exit code 0')
}

/** The development key the first start prints. */
export const printedKey = (server: Server): string => /export DSR_KEY=(\S+)/.exec(server.stdout())?.[1] ?? ''
