import t from 'tap'
import { sql } from 'drizzle-orm'
import parse from 'parse-prometheus-text-format'
import { auth, build, registryOf, requestBody, waitFor } from './helper.js'
import type { MemoryConnector } from '../connectors/memory/index.js'

const ADA = 'ada@example.com'
const TOKEN = 'metrics-token-0123456789'
const system = (id: string, faults?: Record<string, unknown>) => ({
  id,
  driver: 'memory',
  settings: { streams: [{ name: 'contacts', match: { email: 'email' }, records: [{ id: 1, email: ADA }] }], ...(faults ? { faults } : {}) }
})

t.test('GET /metrics after a known workload', async (t) => {
  const registry = await registryOf([system('crm'), system('billing', { collect: { status: 401, times: 1 } })])
  const app = await build(t, { registry, env: { TASK_POLL_SECONDS: '0.5', SCHEDULER_ENABLED: 'false', METRICS_TOKEN: TOKEN } })
  const post = (body: Record<string, unknown>) => app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody(body) })

  const done = (await post({ subject: { email: ADA }, verification: { method: 'account_login' } })).json().id
  await post({ type: 'erasure', subject: { email: ADA } })
  await post({ regime: 'ccpa', subject: { email: ADA } })
  await post({ subject: { email: ADA }, received_at: '2025-01-10T09:00:00Z' }) // due 2025-02-10: overdue
  // Overdue is judged by the effective date: a CCPA request past its 45 days whose extension was
  // not taken is overdue (its possible 90 days notwithstanding); a GDPR one extended is not,
  // although its statutory date has passed.
  await post({ regime: 'ccpa', subject: { email: ADA }, received_at: new Date(Date.now() - 50 * 86_400_000).toISOString() })
  const extended = (await post({ subject: { email: ADA } })).json().id
  const ext = await app.inject({ method: 'POST', url: `/v1/requests/${extended}/extension`, headers: auth(), payload: { reason: 'complex' } })
  t.equal(ext.statusCode, 200, 'extension taken')
  await app.dbh.rows(sql`update requests set due_at = now() - interval '1 day' where id = ${extended}`)
  await waitFor(async () => (await app.inject({ url: `/v1/requests/${done}`, headers: auth() })).json().status === 'partially_completed', 20_000, 'the request to settle')
  // A task waiting for a retry due tomorrow: on its queue until then.
  await app.dbh.rows(sql`insert into tasks (request_id, connector_id, action, status, attempts, max_attempts, next_attempt_at)
    values (${extended}, 'crm', 'collect', 'retry_wait', 1, 6, now() + interval '1 day')`)
  await app.engine.circuit.check('crm')
  ;(registry.get('billing')!.connector as MemoryConnector).setFault('health', { status: 503, times: 1 })
  await app.engine.circuit.check('billing')

  t.equal((await app.inject('/metrics')).statusCode, 401, 'the scrape token is required when set')
  t.equal((await app.inject({ url: '/metrics', headers: { authorization: 'Bearer wrong' } })).statusCode, 401)
  const res = await app.inject({ url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  const families = new Map(parse(res.body).map((f) => [f.name, f]))
  const value = (name: string, labels: Record<string, string>) => {
    const m = families.get(name)?.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v))
    return m?.value === undefined ? undefined : Number(m.value)
  }

  t.equal(families.get('dsr_requests')?.type, 'GAUGE')
  for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) {
    t.ok(families.has(name), `the process's own figures: ${name}`)
  }
  t.equal(value('dsr_requests', { type: 'access', status: 'partially_completed', regime: 'gdpr' }), 1)
  t.equal(value('dsr_requests', { type: 'erasure', status: 'received', regime: 'gdpr' }), 1)
  t.equal(value('dsr_requests', { type: 'access', status: 'received', regime: 'ccpa' }), 2)
  t.equal(value('dsr_requests', { type: 'access', status: 'received', regime: 'gdpr' }), 2)
  t.equal(families.get('dsr_requests')!.metrics.length, 4, 'one series per (type, status, regime) present')
  t.equal(value('dsr_requests_overdue', {}), 2, 'the 2025 request and the CCPA one not extended; not the extended one')

  t.equal(value('dsr_task_attempts_total', { connector: 'crm', action: 'collect', outcome: 'succeeded' }), 1)
  t.equal(value('dsr_task_attempts_total', { connector: 'billing', action: 'collect', outcome: 'failed' }), 1)
  const hist = families.get('dsr_task_duration_seconds')
  t.equal(hist?.type, 'HISTOGRAM')
  t.ok(hist!.metrics.some((m) => m.buckets?.['+Inf'] !== undefined), 'buckets up to +Inf')
  // parse-prometheus-text-format 1.1.1 drops a histogram's labels, _count and _sum: read those lines directly.
  t.match(res.body, /^dsr_task_duration_seconds_count\{connector="crm",action="collect",outcome="succeeded"\} 1$/m, 'one observed crm attempt')
  t.match(res.body, /^dsr_task_duration_seconds_bucket\{le="\+Inf",connector="billing",action="collect",outcome="failed"\} 1$/m)

  t.equal(value('dsr_connector_up', { connector: 'crm' }), 1)
  t.equal(value('dsr_connector_up', { connector: 'billing' }), 0)
  t.equal(value('dsr_queue_jobs', { queue: 'dsr_task_crm', state: 'retry_wait' }), 1, 'the crm task queue: its task waiting for a retry')
  t.equal(value('dsr_queue_jobs', { queue: 'dsr_task_crm', state: 'succeeded' }), undefined, 'finished tasks are off the queue')
  t.ok((value('dsr_queue_jobs', { queue: 'dsr_archive' }) ?? 0) >= 1, 'the archive queue has the job of the settled request')
})
