import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createServer, request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { Value } from 'typebox/value'
import { ZendeskConfigSchema, createZendeskConnector, type ZendeskConfig } from '../../connectors/zendesk/index.js'
import type { ConnectorContext } from '../../connectors/types.js'
import { startZendeskFake } from '../fakes/zendesk.js'

/**
 * Replays the Zendesk connector's collect and erase through `prism proxy --errors` against the
 * vendor's DSAR subset, so any drift of request or response from the contract fails the test.
 * The spec lives outside the repo (licence): ../shared/vendor-contracts/zendesk/.
 */
const SPEC = join(import.meta.dirname, '../../../shared/vendor-contracts/zendesk/dsar-subset.openapi.json')
/** Documented by Zendesk (List Tickets) but missing from its OAS file (SOURCE.md "Known gaps"): not validated. */
const NOT_IN_OAS = /^\/api\/v2\/users\/\d+\/tickets\/requested(\.json)?(\?|$)/

if (!existsSync(SPEC)) {
  t.comment(`SKIP: Zendesk contract spec not found at ${SPEC}: put shared/ beside the repo to run the Prism contract check`)
  t.pass('skipped: no vendor spec')
} else {
  t.test('zendesk connector traffic conforms to the vendor OpenAPI (prism proxy --errors)', { timeout: 60_000 }, async (t) => {
    const quiet = { debug () {}, info () {}, warn () {}, error () {} }
    const fake = await startZendeskFake()
    t.teardown(fake.close)
    const prismPort = await freePort()
    const prism = spawn(join(import.meta.dirname, '../../node_modules/.bin/prism'),
      ['proxy', '--errors', SPEC, fake.url, '--port', String(prismPort), '--host', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    prism.stdout.on('data', (d: Buffer) => { output += d.toString() })
    prism.stderr.on('data', (d: Buffer) => { output += d.toString() })
    t.teardown(() => { prism.kill() })
    const deadline = Date.now() + 30_000
    while (!output.includes('Prism is listening')) {
      if (Date.now() > deadline || prism.exitCode !== null) throw new Error(`prism did not start:\n${output}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    const bypassed: string[] = []
    const statuses: Array<{ path: string, status: number }> = []
    const split = createServer((req, res) => {
      const direct = NOT_IN_OAS.test(req.url ?? '')
      if (direct) bypassed.push(req.url ?? '')
      const target = new URL(req.url ?? '/', direct ? fake.url : `http://127.0.0.1:${prismPort}`)
      const up = httpRequest(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (r) => {
        statuses.push({ path: (req.url ?? '').split('?')[0]!, status: r.statusCode ?? 0 })
        res.writeHead(r.statusCode ?? 502, r.headers)
        r.pipe(res)
      })
      req.pipe(up)
    })
    await new Promise<void>((resolve) => split.listen(0, '127.0.0.1', resolve))
    t.teardown(() => new Promise<void>((resolve) => { split.closeAllConnections(); split.close(() => resolve()) }))
    const base = `http://127.0.0.1:${(split.address() as AddressInfo).port}`

    const connector = createZendeskConnector(Value.Default(ZendeskConfigSchema, { base_url: base, email: 'agent@helpdesk.example', api_token: 'zd-test-token', page_size: 2 }) as ZendeskConfig, { fetch, log: quiet }, { retry: { attempts: 1 } })
    const ctx = (email: string): ConnectorContext => ({ requestId: 'r-1', subject: { email }, signal: AbortSignal.timeout(30_000), log: quiet })
    let files = 0
    let records = 0
    for await (const item of connector.collect!(ctx('ada@example.com'))) {
      if (item.type === 'file') { files++; for await (const _ of await item.open()) void _ } else records++
    }
    t.ok(records > 0 && files === 2, `collected ${records} records and ${files} files through Prism`)
    const outcomes = []
    for await (const o of connector.erase!(ctx('ada@example.com'))) outcomes.push(o)
    t.same(outcomes.map((o) => o.status), ['erased', 'erased'])

    const violations = output.split('\n').filter((l) => /violation|✖|error/i.test(l))
    t.same(violations, [], 'Prism logged no contract violations')
    t.same(statuses.filter((s) => s.status >= 400), [], 'no call was refused by Prism')
    t.ok(bypassed.length > 0, `${bypassed.length} call(s) to /users/{id}/tickets/requested bypassed Prism (not in the OAS)`)
  })
}

function freePort (): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer()
    s.listen(0, '127.0.0.1', () => { const { port } = s.address() as AddressInfo; s.close(() => resolve(port)) })
  })
}
