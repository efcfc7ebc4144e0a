import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { killAll, printedKey, start, stop, waitReady } from './newcomer.js'

/**
 * `npm run sandbox` as a newcomer runs it: the service with connectors/samples/vendors.json against
 * the vendor stand-ins. An access request for Ada reaches all five systems; an erasure then leaves
 * none of them holding her. (The same under 50% 429s, in-process: test/e2e/five-systems.test.ts.)
 */

t.setTimeout(300_000)
const dataDir = mkdtempSync(join(tmpdir(), 'dsr-sandbox-'))
t.teardown(() => {
  killAll()
  rmSync(dataDir, { recursive: true, force: true })
})

interface Request { id: string, status: string, tasks: Array<{ connector: string, status: string, result: { streams?: Record<string, number>, files?: number } | null }> }

t.test('npm run sandbox: the five systems answer through the vendors\' APIs', async (t) => {
  const server = await start(dataDir, 'scripts/vendor-sandbox.ts')
  await waitReady(server, () => printedKey(server) !== '')
  t.match(server.stdout(), /HubSpot +http:\/\/127\.0\.0\.1:\d+\n +Zendesk +http/, 'names the stand-ins')
  const headers = { authorization: `Bearer ${printedKey(server)}`, 'content-type': 'application/json' }

  const connectors = await (await fetch(`${server.base}/v1/connectors`, { headers })).json() as { data: Array<{ id: string, driver: string }> }
  t.strictSame(connectors.data.map((c) => `${c.id}:${c.driver}`).sort(),
    ['crm:hubspot', 'newsletter:mailchimp', 'support:zendesk', 'test_results:postgres', 'webinar:zoom'])

  const run = async (type: string): Promise<Request> => {
    const created = await fetch(`${server.base}/v1/requests`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ type, regime: 'gdpr', subject: { email: 'ada@example.com' }, verification: { method: 'account_login' } })
    })
    t.equal(created.status, 202)
    const { id } = await created.json() as { id: string }
    const deadline = Date.now() + 180_000
    for (;;) {
      const body = await (await fetch(`${server.base}/v1/requests/${id}`, { headers })).json() as Request
      if (['completed', 'partially_completed', 'failed'].includes(body.status)) return body
      if (Date.now() > deadline) throw new Error(`${type} did not settle: ${JSON.stringify(body.tasks)}`)
      await sleep(500)
    }
  }

  const access = await run('access')
  t.equal(access.status, 'completed')
  const found = Object.fromEntries(access.tasks.map((x) => [x.connector, Object.keys(x.result?.streams ?? {}).sort()]))
  t.strictSame(found, {
    crm: ['calls', 'companies', 'contacts', 'deals', 'emails', 'meetings', 'notes', 'tickets'],
    newsletter: ['activity', 'members', 'tags'],
    support: ['attachments', 'comments', 'identities', 'tickets', 'users'],
    test_results: ['respondents', 'result_recipients', 'results'],
    webinar: ['attendance', 'polls', 'qa', 'registrations']
  }, 'every stream of every system has something of Ada')

  const erasure = await run('erasure')
  t.equal(erasure.status, 'completed')
  const again = await run('access')
  t.strictSame(Object.fromEntries(again.tasks.map((x) => [x.connector, x.result?.streams ?? {}])), {
    crm: {}, newsletter: {}, support: {}, test_results: {}, webinar: { attendance: 1, polls: 1, qa: 1 }
  }, 'afterwards only the Zoom report data Zoom cannot delete is left')

  await stop(t, server)
  t.notOk(server.output().includes('ada@example.com'), 'her address never reaches the output')
})
