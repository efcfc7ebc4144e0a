import { existsSync } from 'node:fs'
import t from 'tap'
import { createMailchimpConnector } from '../../connectors/mailchimp/index.js'
import { createZoomConnector } from '../../connectors/zoom/index.js'
import { startMailchimpFake } from '../fakes/mailchimp.js'
import { startZoomFake } from '../fakes/zoom.js'
import { ctx as contextFor, drain, quiet, specOf, startPrism } from './support.js'
import { skipUnlessRequired } from '../helper.js'

const ctx = (email: string) => contextFor({ email }, AbortSignal.timeout(40_000))

/**
 * Replays the Mailchimp and Zoom connectors' traffic (collect, opt-out, erase, health) through
 * `prism proxy --errors` against the vendors' DSAR subsets, so any drift of our requests or of our
 * fakes' responses from the vendor contract fails the test. The specs live outside the repo
 * (licence): ../shared/vendor-contracts/<vendor>/dsar-subset.openapi.json.
 */
/** Records the status of every call that went through Prism (a violation under --errors is a 4xx/5xx from Prism). */
function recording (): { fetch: typeof fetch, calls: Array<{ method: string, path: string, status: number, violations: string | null }> } {
  const calls: Array<{ method: string, path: string, status: number, violations: string | null }> = []
  return {
    calls,
    fetch: async (input, init) => {
      const res = await globalThis.fetch(input, init)
      const url = new URL(String(input))
      calls.push({ method: init?.method ?? 'GET', path: url.pathname, status: res.status, violations: res.headers.get('sl-violations') })
      return res
    }
  }
}

const violationLines = (output: string) => output.split('\n').filter((l) => /violation|✖/i.test(l))

for (const vendor of ['mailchimp', 'zoom'] as const) {
  if (!existsSync(specOf(vendor))) {
    // Reported as a skip, never as a pass: nothing was checked (and a failure where the run requires it).
    skipUnlessRequired(t, 'contracts', `${vendor} connector traffic conforms to the vendor OpenAPI (prism proxy --errors)`,
      `the ${vendor} contract spec is not at ${specOf(vendor)}: put shared/ beside the repo to run the Prism contract check`)
  }
}

if (existsSync(specOf('mailchimp'))) {
  t.test('mailchimp connector traffic conforms to the vendor OpenAPI (prism proxy --errors)', { timeout: 60_000 }, async (t) => {
    // merge_fields off: the subset spec types their values as objects (codegen defect; the live API sends strings).
    const fake = await startMailchimpFake({ mergeFields: false })
    t.teardown(fake.close)
    const prism = await startPrism(t, specOf('mailchimp'), fake.baseUrl)
    const rec = recording()
    const c = createMailchimpConnector({ base_url: prism.url, api_key: fake.apiKey, max_connections: 4, page_size: 2 }, { fetch: rec.fetch, log: quiet }, { retry: { attempts: 1 } })
    t.match(await c.health({ signal: AbortSignal.timeout(10_000) }), { status: 'ok' })
    const items = await drain(c.collect!(ctx('ada@example.com')))
    t.same([...new Set(items.map((i) => i.stream))].sort(), ['activity', 'members', 'tags'])
    t.same(await drain(c.optOut!({ ...ctx('ada@example.com'), purposes: ['marketing'] })), [{ status: 'opted_out', stream: 'members', count: 2, purposes: ['marketing'] }])
    t.match((await drain(c.erase!(ctx('ada@example.com'))))[0], { status: 'erased', count: 3 })
    t.same(await drain(c.collect!(ctx('ada@example.com'))), [], 'nothing left (404s from the member lookups pass the contract too)')

    t.same(rec.calls.filter((c) => c.violations !== null || (c.status >= 400 && c.status !== 404)), [], 'no call was flagged or refused by Prism')
    t.ok(rec.calls.some((c) => c.status === 404), 'the "not in this audience" 404 went through Prism')
    t.same(violationLines(prism.output()), [], 'Prism logged no contract violations')
    t.ok(new Set(rec.calls.map((c) => `${c.method} ${c.path.replace(/[0-9a-f]{32}/, '{hash}').replace(/aud\d+/, '{list_id}')}`)).size >= 7, 'every operation was exercised')
  })
}

if (existsSync(specOf('zoom'))) {
  t.test('zoom connector traffic conforms to the vendor OpenAPI (prism proxy --errors)', { timeout: 60_000 }, async (t) => {
    const fake = await startZoomFake({ limits: { Light: 100, Medium: 100, Heavy: 100 } })
    t.teardown(fake.close)
    const prism = await startPrism(t, specOf('zoom'), fake.baseUrl)
    const rec = recording()
    const c = createZoomConnector({
      base_url: prism.url,
      token_url: fake.tokenUrl,
      account_id: fake.accountId,
      client_id: fake.clientId,
      client_secret: fake.clientSecret,
      user_id: 'me',
      page_size: 2,
      reports: true,
      rate_limits: { light: 100, medium: 100, heavy: 100 }
    }, { fetch: rec.fetch, log: quiet }, { retry: { attempts: 1 } })
    t.match(await c.health({ signal: AbortSignal.timeout(10_000) }), { status: 'ok' })
    const grace = await drain(c.collect!(ctx('grace@example.com')))
    t.same([...new Set(grace.map((i) => i.stream))].sort(), ['attendance', 'polls', 'qa', 'registrations'])
    t.equal((await drain(c.collect!(ctx('ada@example.com')))).length, 4)
    t.match(await drain(c.erase!(ctx('grace@example.com'))), [{ status: 'erased', count: 1 }, { status: 'retained' }, { status: 'retained' }, { status: 'retained' }])
    // A registrant already gone: Zoom's 400 (code 3000) must pass the contract too.
    const ada = fake.state.webinars.flatMap((w) => w.registrants.filter((r) => r.email.toLowerCase() === 'ada@example.com').map((r) => ({ webinarId: w.id, registrant: { ...r } })))
    t.match((await drain(c.erase!(ctx('ada@example.com'))))[0], { status: 'erased', count: 4 })
    fake.state.ghosts.push(...ada)
    t.match((await drain(c.erase!(ctx('ada@example.com'))))[0], { status: 'not_found' })

    const api = rec.calls.filter((c) => !c.path.startsWith('/oauth'))
    t.same(api.filter((c) => c.violations !== null || (c.status >= 400 && !(c.status === 400 && c.method === 'DELETE') && c.status !== 404)), [], 'no call was flagged or refused by Prism')
    t.ok(api.some((c) => c.method === 'DELETE' && c.status === 400), 'the 400/3000 went through Prism')
    t.ok(api.some((c) => c.status === 404 && c.path.includes('/report/')), 'a webinar without a report (404/3001) went through Prism')
    t.same(violationLines(prism.output()), [], 'Prism logged no contract violations')
  })
}
