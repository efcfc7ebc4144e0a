import { existsSync } from 'node:fs'
import { createServer, request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { Value } from 'typebox/value'
import { ZendeskConfigSchema, createZendeskConnector, type ZendeskConfig } from '../../connectors/zendesk/index.js'
import { startZendeskFake } from '../fakes/zendesk.js'
import { ctx as contextFor, quiet, specOf, startPrism } from './support.js'
import { skipUnlessRequired } from '../helper.js'

/**
 * Replays the Zendesk connector's collect and erase through `prism proxy --errors` against the
 * vendor's DSAR subset, so any drift of request or response from the contract fails the test.
 * The spec lives outside the repo (licence): ../shared/vendor-contracts/zendesk/.
 */
const SPEC = specOf('zendesk')
/** Documented by Zendesk (List Tickets) but missing from its OAS file (SOURCE.md "Known gaps"): not validated. */
const NOT_IN_OAS = /^\/api\/v2\/users\/\d+\/tickets\/requested(\.json)?(\?|$)/

if (!existsSync(SPEC)) {
  // Reported as a skip, never as a pass: nothing was checked (and a failure where the run requires it).
  skipUnlessRequired(t, 'contracts', 'zendesk connector traffic conforms to the vendor OpenAPI (prism proxy --errors)',
    `the Zendesk contract spec is not at ${SPEC}: put shared/ beside the repo to run the Prism contract check`)
} else {
  t.test('zendesk connector traffic conforms to the vendor OpenAPI (prism proxy --errors)', { timeout: 60_000 }, async (t) => {
    const fake = await startZendeskFake()
    t.teardown(fake.close)
    const prism = await startPrism(t, SPEC, fake.url)
    const prismPort = Number(new URL(prism.url).port)
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
    const ctx = (email: string) => contextFor({ email }, AbortSignal.timeout(30_000))
    let files = 0
    let records = 0
    for await (const item of connector.collect!(ctx('ada@example.com'))) {
      if (item.type === 'file') { files++; for await (const _ of await item.open()) void _ } else records++
    }
    t.ok(records > 0 && files === 2, `collected ${records} records and ${files} files through Prism`)
    const outcomes = []
    for await (const o of connector.erase!(ctx('ada@example.com'))) outcomes.push(o)
    t.same(outcomes.map((o) => o.status), ['erased', 'erased'])

    // Prism marks a violation, and any line at error level, with ✖ or the word violation. Not a bare
    // "error": that also matches request data in its info lines (a query parameter `filter[type]=error`).
    const violations = prism.output().split('\n').filter((l) => /violation|✖/i.test(l))
    t.same(violations, [], 'Prism logged no contract violations')
    t.same(statuses.filter((s) => s.status >= 400), [], 'no call was refused by Prism')
    t.ok(bypassed.length > 0, `${bypassed.length} call(s) to /users/{id}/tickets/requested bypassed Prism (not in the OAS)`)
  })
}
