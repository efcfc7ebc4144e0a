import { spawn, type ChildProcess } from 'node:child_process'
import { NO_CHILD_COVERAGE } from '../child-env.js'
import { ROOT, nodeArgs } from '../paths.js'

/** A service process (`src/server.ts`) the test started, and what it printed. */
export interface ServiceProcess {
  name: string
  child: ChildProcess
  pid: number
  /** The last lines it printed (stdout and stderr), for a failure's message. */
  lines: string[]
  /** Resolves once it is up: `worker started` for a worker, a listening API for ROLE=api. */
  ready: Promise<void>
  /** Resolves with its exit code (null when killed by a signal). */
  exited: Promise<number | null>
  /** Set by the test before it kills the process on purpose: its exit is then not counted. */
  killedOnPurpose: boolean
}

const KEEP_LINES = 300

/**
 * Starts `src/server.ts` with `env` (merged over a minimal environment), as a supervisor would, in
 * the repository or in the working directory `cwd` (as on a machine of its own). The process is
 * ready when it logs `worker started` (ROLE=worker) or `Server listening` (ROLE=api).
 */
export function startService (name: string, env: Record<string, string>, opts: { cwd?: string } = {}): ServiceProcess {
  const child = spawn(process.execPath, nodeArgs('src/server.ts'), {
    cwd: opts.cwd ?? ROOT,
    env: { ...NO_CHILD_COVERAGE, PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const lines: string[] = []
  let onReady: () => void
  let onFail: (err: Error) => void
  const ready = new Promise<void>((resolve, reject) => { onReady = resolve; onFail = reject })
  ready.catch(() => {}) // reported where `ready` is awaited
  const collect = (stream: NodeJS.ReadableStream) => {
    let rest = ''
    stream.setEncoding('utf8')
    stream.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n')
      rest = parts.pop() ?? ''
      for (const line of parts) {
        lines.push(line)
        if (lines.length > KEEP_LINES) lines.shift()
        if (line.includes('"worker started"') || line.includes('Server listening')) onReady()
      }
    })
  }
  collect(child.stdout!)
  collect(child.stderr!)
  const proc: ServiceProcess = {
    name,
    child,
    pid: child.pid!,
    lines,
    ready,
    killedOnPurpose: false,
    exited: new Promise<number | null>((resolve) => child.on('exit', (code, signal) => {
      onFail(new Error(`${name} exited before it was ready (code ${code}, signal ${signal}):\n${lines.slice(-20).join('\n')}`))
      resolve(code)
    }))
  }
  return proc
}

export const isRunning = (p: ServiceProcess) => p.child.exitCode === null && p.child.signalCode === null

/** SIGTERM (graceful close), then SIGKILL if it has not exited within 5 s. */
export async function stopService (p: ServiceProcess): Promise<void> {
  if (!isRunning(p)) return
  p.killedOnPurpose = true
  p.child.kill('SIGTERM')
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 5000)
  await p.exited
  clearTimeout(timer)
}
