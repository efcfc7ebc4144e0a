import { spawnSync } from 'node:child_process'
import { chownSync, existsSync, readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'

/**
 * A Postgres server of the test's own, to stop and restart at will: `initdb` and `pg_ctl` from the
 * machine's PostgreSQL (PG_BIN, else the newest /usr/lib/postgresql/<version>/bin), a data folder in
 * the OS temp dir and a free port. Postgres refuses to run as root, so as root it runs as the
 * `postgres` user (which the distribution's package creates), on a data folder that user owns.
 */
export interface PrivatePostgres {
  /** The server's URL for `database` (superuser, trust auth, 127.0.0.1). */
  url (database?: string): string
  port: number
  /** `pg_ctl restart -m fast`: every session is cut, the server is back when it returns. */
  restart (): void
  /** `pg_ctl stop -m fast`: connections are refused until `start`. */
  stop (): void
  start (): void
  /** Stops the server (immediately) and deletes its folder. */
  destroy (): Promise<void>
  /** The server's own log, for a failure's message. */
  log (): string
}

/** Where initdb and pg_ctl are, or why there are none: the tests that need them skip with that message. */
export function findPostgresBin (): { bin: string } | { skip: string } {
  const candidates = process.env.PG_BIN
    ? [process.env.PG_BIN]
    : existsSync('/usr/lib/postgresql')
      ? readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a)).map((v) => `/usr/lib/postgresql/${v}/bin`)
      : []
  const bin = candidates.find((dir) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl')))
  if (!bin) return { skip: 'no PostgreSQL server binaries (initdb, pg_ctl) on this machine: set PG_BIN to their folder' }
  if (process.getuid?.() === 0 && !existsSync('/usr/sbin/runuser') && !existsSync('/sbin/runuser')) {
    return { skip: 'running as root without runuser: Postgres cannot be started as another user' }
  }
  return { bin }
}

async function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

/** The uid and gid of the `postgres` user, as /etc/passwd has them. */
function postgresUser (): { uid: number, gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'))
  if (!line) throw new Error('running as root, and there is no postgres user to run the server as')
  const [, , uid, gid] = line.split(':')
  return { uid: Number(uid), gid: Number(gid) }
}

export async function startPrivatePostgres (bin: string): Promise<PrivatePostgres> {
  const asRoot = process.getuid?.() === 0
  const dir = await mkdtemp(join(tmpdir(), 'dsr-pg-'))
  const data = join(dir, 'data')
  const logFile = join(dir, 'server.log')
  if (asRoot) {
    const { uid, gid } = postgresUser()
    chownSync(dir, uid, gid)
  }
  const port = await freePort()
  const superuser = asRoot ? 'root' : userInfo().username
  const run = (tool: string, args: string[]) => {
    const [cmd, argv] = asRoot
      ? [existsSync('/usr/sbin/runuser') ? '/usr/sbin/runuser' : '/sbin/runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]]
      : [join(bin, tool), args]
    const result = spawnSync(cmd, argv, { encoding: 'utf8', timeout: 60_000 })
    if (result.status !== 0) {
      throw new Error(`${tool} ${args.join(' ')} failed (${result.status ?? result.signal}): ${result.stderr}${result.stdout}\n${readLog()}`)
    }
  }
  const readLog = () => existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n') : ''
  // fsync off: the server is thrown away, and the machine is shared.
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`
  const start = () => run('pg_ctl', ['-D', data, '-l', logFile, '-o', options, '-w', '-t', '60', 'start'])
  run('initdb', ['-D', data, '-U', superuser, '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions'])
  start()
  let up = true
  return {
    port,
    url: (database = 'postgres') => `postgres://${superuser}@127.0.0.1:${port}/${database}`,
    restart: () => run('pg_ctl', ['-D', data, '-l', logFile, '-m', 'fast', '-w', '-t', '60', 'restart', '-o', options]),
    stop: () => { run('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '60', 'stop']); up = false },
    start: () => { start(); up = true },
    async destroy () {
      if (up) {
        try { run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']) } catch { /* already stopped */ }
      }
      await rm(dir, { recursive: true, force: true })
    },
    log: readLog
  }
}
