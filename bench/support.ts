/** What the benchmarks share: option parsing, statistics, formatting, peak RSS and cleanup on exit. */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import postgres from 'postgres'

export function positiveInt (name: string, v: string | undefined): number {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${v}`)
  return n
}

/** The q-quantile (0 < q ≤ 1) by the nearest-rank method; NaN for no values. */
export function percentile (values: number[], q: number): number {
  if (values.length === 0) return NaN
  const sorted = Float64Array.from(values).sort()
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!
}

export function median (values: number[]): number {
  const s = [...values].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

export const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
export const ms = (n: number) => `${n.toFixed(2)} ms`

/** Peak resident set of a process so far (Linux: VmHWM), in MiB; NaN where it cannot be read. */
export function peakRssMiB (pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Math.round(Number(m[1]) / 1024) : NaN
  } catch {
    return NaN
  }
}

/** CPU time a process has used so far (Linux: utime + stime of all its threads), in seconds; NaN where it cannot be read. */
export function cpuSeconds (pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return NaN
  }
}

/** CPU time the whole machine has spent busy so far (Linux: /proc/stat, all but idle and iowait), in seconds across all cores. */
export function machineBusySeconds (): number {
  try {
    const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/)
    const n = ticks.map(Number)
    return (n.reduce((a, b) => a + b, 0) - n[3]! - n[4]!) / 100
  } catch {
    return NaN
  }
}

/**
 * Steps to undo at the end, in reverse order of registration: run by `cleanup()` (once, however
 * often it is called) and on SIGINT or SIGTERM. A step that fails sets a non-zero exit code and the
 * others still run.
 */
export function cleanupRegistry () {
  const steps: Array<[string, () => Promise<unknown>]> = []
  let cleaned = false
  async function cleanup (): Promise<void> {
    if (cleaned) return
    cleaned = true
    for (const [what, fn] of steps.reverse()) {
      try { await fn() } catch (err) {
        process.exitCode = 1
        console.error(`cleanup (${what}) failed:`, err)
      }
    }
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: cleaning up`)
      cleanup().finally(() => process.exit(130))
    })
  }
  return { cleanups: steps, cleanup }
}

/** The options of the benchmarks that measure rounds of load (parseArgs options), with their defaults. */
export const LOAD_OPTIONS = {
  rounds: { type: 'string', default: '3' },
  duration: { type: 'string', default: '10' },
  connections: { type: 'string', default: '10' },
  warmup: { type: 'string', default: '3' },
  embedded: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false }
} as const

/** The load options' values, checked: rounds, seconds a round, connections, seconds of warm-up, embedded. */
export function loadSettings (args: { rounds?: string, duration?: string, connections?: string, warmup?: string, embedded?: boolean }) {
  return {
    rounds: positiveInt('rounds', args.rounds),
    duration: positiveInt('duration', args.duration),
    connections: positiveInt('connections', args.connections),
    warmup: positiveInt('warmup', args.warmup),
    embedded: args.embedded ?? false
  }
}

/**
 * Runs a benchmark's main, then its cleanup, whatever happened. A failure sets exit code 1 and is
 * printed with its stack, unless it is a run found invalid ('the run is invalid' in its message).
 */
export async function runBench (name: string, main: () => Promise<void>, cleanup: () => Promise<void>): Promise<void> {
  try {
    await main()
  } catch (err) {
    process.exitCode = 1
    console.error(`\nbench/${name} FAILED:`, err instanceof Error ? err.message : err)
    if (err instanceof Error && err.stack && !err.message.includes('the run is invalid')) console.error(err.stack)
  } finally {
    await cleanup()
  }
}

/**
 * A fresh database `dsr_bench_<random>` on the server named by DATABASE_URL (default
 * postgres://root@127.0.0.1:5432/test), dropped by the cleanup. Returns its URL and a line saying
 * what it is (server version, host and name; never a password).
 */
export async function freshDatabase (cleanups: Array<[string, () => Promise<unknown>]>): Promise<{ url: string, label: string }> {
  const adminUrl = process.env.DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test'
  const name = `dsr_bench_${randomBytes(6).toString('hex')}`
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} })
  cleanups.push(['end admin connection', () => admin.end({ timeout: 5 })])
  await admin.unsafe(`create database ${name}`)
  cleanups.push([`drop database ${name}`, () => admin.unsafe(`drop database if exists ${name} with (force)`)])
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  const [{ version }] = await admin<[{ version: string }]>`select current_setting('server_version') as version`
  return { url: url.toString(), label: `PostgreSQL ${version} at ${url.host}, database ${name}` }
}
