import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { EnvSchema } from '../src/config.js'
import { NO_CHILD_COVERAGE } from './child-env.js'
import { ROOT, nodeArgs } from './paths.js'

/**
 * The README's walkthrough runs as written: the service is started as a newcomer starts it (no
 * settings: the embedded database and the sample systems, its development key read from what it
 * prints), and the walkthrough's shell block is run by bash, every curl failing the run on any
 * answer that is not 2xx.
 */

t.setTimeout(300_000)

function cleanEnv (over: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const key of Object.keys(EnvSchema.properties)) delete env[key]
  for (const key of Object.keys(env)) {
    if (key === 'NODE_OPTIONS' || key === 'TAP' || key.startsWith('TAP_') || key.startsWith('_TAPJS_')) delete env[key]
  }
  return { ...env, ...NO_CHILD_COVERAGE, ...over }
}

/** The first ```sh block after `heading`. */
function shellBlock (markdown: string, heading: string): string {
  const at = markdown.indexOf(`\n${heading}\n`)
  const match = /```sh\n([\s\S]*?)```/.exec(markdown.slice(at))
  if (at < 0 || !match) throw new Error(`no shell block under ${heading}`)
  return match[1]!
}

t.test('the walkthrough runs as written against a fresh service', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'dsr-readme-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const server: ChildProcess = spawn(process.execPath, nodeArgs('src/server.ts'), {
    cwd: ROOT,
    env: cleanEnv({ DATA_DIR: join(dataDir, 'data'), PORT: '0', HOST: '127.0.0.1', SCHEDULER_ENABLED: 'false' }),
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.teardown(() => { server.kill('SIGKILL') })
  let out = ''
  server.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d })
  server.stderr!.setEncoding('utf8').on('data', (d: string) => { out += d })
  const started = await new Promise<{ key: string, port: string }>((resolve, reject) => {
    const timer = setInterval(() => {
      const key = /export DSR_KEY=(\S+)/.exec(out)?.[1]
      const port = /listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1]
      if (key && port) { clearInterval(timer); resolve({ key, port }) }
    }, 100)
    server.on('exit', (code) => { clearInterval(timer); reject(new Error(`the service exited (${code}): ${out}`)) })
  })

  const block = shellBlock(readFileSync(join(ROOT, 'README.md'), 'utf8'), '## Walkthrough')
  t.match(block, /^export DSR_KEY=/m, 'the block starts from the printed key')
  const script = [
    'set -euo pipefail',
    // Any answer that is not 2xx fails the run, with its body.
    'curl () { command curl --fail-with-body --max-time 30 "$@"; }',
    block.replace(/^export DSR_KEY=.*$/m, '').replaceAll('http://localhost:3000', `http://127.0.0.1:${started.port}`),
    'echo; echo "WALKTHROUGH-OK $ID $ID2 $ID3"'
  ].join('\n')
  const cwd = mkdtempSync(join(tmpdir(), 'dsr-readme-run-'))
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }))
  const run = await new Promise<{ code: number | null, stdout: string, stderr: string }>((resolve) => {
    const bash = spawn('bash', ['-c', script], { cwd, env: { ...cleanEnv({}), DSR_KEY: started.key }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    bash.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
    bash.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    const timer = setTimeout(() => bash.kill('SIGKILL'), 120_000)
    bash.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
  t.equal(run.code, 0, run.code === 0 ? 'every step answered 2xx' : `a step failed:\n${run.stderr}\n${run.stdout.slice(-2000)}`)
  const ids = /WALKTHROUGH-OK (\S+) (\S+) (\S+)/.exec(run.stdout)
  t.ok(ids && ids.slice(1).every((id) => /^[0-9a-f-]{36}$/.test(id)), 'ID, ID2 and ID3 were set from the answers')
  t.ok(statSync(join(cwd, 'ada.zip')).size > 1000, 'her archive was downloaded')
  t.match(run.stdout, /"action":"cancelled"|"to_status":"cancelled"/, 'the cancellation is on the trail')
})
