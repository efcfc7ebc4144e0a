import { spawn } from 'node:child_process'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Test } from 'tap'
import type { ConnectorContext, SubjectIdentity } from '../../connectors/types.js'
import { NO_CHILD_COVERAGE } from '../child-env.js'
import { fromRoot } from '../paths.js'

/** What vendor connector tests share: a silent logger, a context, draining generators, and Prism. */

export const quiet = { debug () {}, info () {}, warn () {}, error () {} }

export function ctx (subject: SubjectIdentity, signal: AbortSignal = new AbortController().signal): ConnectorContext {
  return { requestId: '00000000-0000-4000-8000-000000000002', subject, signal, log: quiet }
}

export async function drain<T> (it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

export function freePort (): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer()
    s.listen(0, '127.0.0.1', () => { const { port } = s.address() as AddressInfo; s.close(() => resolve(port)) })
  })
}

/** A vendor's DSAR subset spec; it lives beside the repo, not in it (licence). */
export const specOf = (vendor: string) => fromRoot(`../shared/vendor-contracts/${vendor}/dsar-subset.openapi.json`)

/** Starts `prism proxy --errors spec upstream`; returns its base URL and everything it logged. */
export async function startPrism (t: Test, spec: string, upstream: string): Promise<{ url: string, output: () => string }> {
  const port = await freePort()
  const prism = spawn(fromRoot('node_modules/.bin/prism'),
    ['proxy', '--errors', spec, upstream, '--port', String(port), '--host', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...NO_CHILD_COVERAGE } })
  let output = ''
  prism.stdout.on('data', (d: Buffer) => { output += d.toString() })
  prism.stderr.on('data', (d: Buffer) => { output += d.toString() })
  t.teardown(() => { prism.kill() })
  // Prism takes a few seconds to start on an idle machine, and far longer on a loaded one.
  const deadline = Date.now() + 90_000
  while (!output.includes('Prism is listening')) {
    if (Date.now() > deadline || prism.exitCode !== null) throw new Error(`prism did not start:\n${output}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return { url: `http://127.0.0.1:${port}`, output: () => output }
}
