import t from 'tap'
import { auth, build, registryOf, requestBody, waitFor } from '../helper.js'
import type { MemoryConnector } from '../../connectors/memory/index.js'
import { ConsoleClient, consoleKeys, OPERATOR_KEY } from './session.js'

/** A failed task on the request's page: its attempts and error shown, retried from the console once the cause is fixed. */
const ADA = 'ada@example.com'
const registry = await registryOf([{
  id: 'crm',
  driver: 'memory',
  settings: { streams: [{ name: 'contacts', match: { email: 'email' }, records: [{ id: 'c1', email: ADA }] }], faults: { collect: { status: 401, times: 1 } } }
}])
const app = await build(t, { registry, apiKeys: consoleKeys(), env: { TASK_RETRY_BASE_MS: '50', TASK_POLL_SECONDS: '0.5', TASK_LEASE_SECONDS: '5' } })
const read = async (id: string) => (await app.inject({ url: `/v1/requests/${id}`, headers: auth() })).json<{ status: string, tasks: Array<{ id: string, status: string }> }>()

t.test('a failed task shows its error and is retried from the console', async (t) => {
  const id = (await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody({ subject: { email: ADA }, verification: { method: 'email_link' } }) })).json<{ id: string }>().id
  const failed = await waitFor(async () => (await read(id)).tasks.find((x) => x.status === 'failed'), 30_000, 'the failed task')
  const c = new ConsoleClient(app)
  await c.signIn(OPERATOR_KEY)
  const page = await c.get(`/console/requests/${id}`)
  t.match(page.body, /data-task-status="failed"/)
  t.match(page.body, /Last error <code>DSR_CONNECTOR_AUTH<\/code>/, 'the error code')
  t.match(page.body, /Attempts 1 of \d+/, 'the attempts')
  ;(registry.get('crm')!.connector as MemoryConnector).setFault('collect', null)
  const retried = await c.post(`/console/requests/${id}/tasks/${failed.id}/retry`, { _csrf: ConsoleClient.csrfOf(page.body) })
  t.equal(retried.statusCode, 303)
  await waitFor(async () => (await read(id)).status === 'completed', 30_000, 'completed after the retry')
  const events = (await app.inject({ url: `/v1/requests/${id}/events`, headers: auth() })).json<{ data: Array<{ action: string, actor: string }> }>().data
  t.match(events.find((e) => e.action === 'task_retried'), { actor: 'operator' })
})
