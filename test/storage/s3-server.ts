import { spawn } from 'node:child_process'
import { rmSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { S3ClientConfig } from '@aws-sdk/client-s3'
import { NO_CHILD_COVERAGE } from '../child-env.js'
import { ROOT, nodeArgs } from '../paths.js'

/** s3rver accepts these credentials (its defaults) and no others. */
const ACCESS_KEY = 'S3RVER'
const SECRET_KEY = 'S3RVER'
export const TEST_BUCKET = 'dsr-test'

export interface TestS3Server {
  endpoint: string
  bucket: string
  /** For a client made in the test process. */
  clientConfig: S3ClientConfig
  /** The standard AWS SDK variables, for service processes (STORAGE_S3_PATH_STYLE too). */
  env: Record<string, string>
  stop (): Promise<void>
}

/**
 * Starts a real S3-compatible server (s3rver, from npm) on a free port, with a fresh temporary
 * directory, in a process of its own; stop() ends it and removes the directory. Not a mock: the
 * AWS SDK talks HTTP to it, signed, with multipart uploads, ranges and paged listings. `detached`:
 * it does not keep the test process alive, and ends (its directory removed) when that process exits.
 */
export async function startS3Server (opts: { detached?: boolean } = {}): Promise<TestS3Server> {
  const directory = await mkdtemp(join(tmpdir(), 'dsr-s3-'))
  const child = spawn(process.execPath, ['--openssl-legacy-provider', ...nodeArgs('test/storage/s3rver-main.ts'), directory, TEST_BUCKET], {
    cwd: ROOT,
    env: { ...NO_CHILD_COVERAGE, PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const kill = () => {
    child.kill('SIGKILL')
    rmSync(directory, { recursive: true, force: true })
  }
  process.once('exit', kill)
  let output = ''
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`s3rver did not start:\n${output}`)), 30_000)
    const read = (d: Buffer) => {
      output += d.toString()
      const m = /s3rver listening on (\d+)/.exec(output)
      if (m) { clearTimeout(timer); resolve(Number(m[1])) }
    }
    child.stdout!.on('data', read)
    child.stderr!.on('data', read)
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`s3rver exited (${code}):\n${output}`)) })
  })
  if (opts.detached) {
    child.stdout!.destroy()
    child.stderr!.destroy()
    child.unref()
  }
  const endpoint = `http://127.0.0.1:${port}`
  return {
    endpoint,
    bucket: TEST_BUCKET,
    clientConfig: { endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY } },
    env: {
      AWS_ENDPOINT_URL_S3: endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: ACCESS_KEY,
      AWS_SECRET_ACCESS_KEY: SECRET_KEY,
      STORAGE_S3_PATH_STYLE: 'true'
    },
    async stop () {
      process.removeListener('exit', kill)
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve))
        child.kill('SIGTERM')
        const timer = setTimeout(kill, 5000)
        await exited
        clearTimeout(timer)
      }
      await rm(directory, { recursive: true, force: true })
    }
  }
}
