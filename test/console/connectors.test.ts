import t from 'tap'
import { auth, build, registryOf } from '../helper.js'
import { ConsoleClient, consoleKeys, OPERATOR_KEY } from './session.js'

/** The connectors page: each connector's latest health, its circuit, a chart of its checks, its last retention sweep. */
const streams = [{ name: 'contacts', match: { email: 'email' }, records: [] }]
const registry = await registryOf([
  { id: 'crm', driver: 'memory', display_name: 'Acme CRM', settings: { streams } },
  { id: 'billing', driver: 'memory', display_name: 'Billing', settings: { streams, faults: { health: { status: 503, times: 5 } } } }
])
const app = await build(t, { registry, apiKeys: consoleKeys() })
for (let i = 0; i < 2; i++) {
  for (const id of ['crm', 'billing']) await app.inject({ url: `/v1/connectors/${id}/health?live=true`, headers: auth() })
}
const c = new ConsoleClient(app)
await c.signIn(OPERATOR_KEY)

t.test('health, circuit and a chart per connector', async (t) => {
  const page = await c.get('/console/connectors')
  t.equal(page.statusCode, 200)
  const section = (id: string) => page.body.slice(page.body.indexOf(`data-connector="${id}"`), page.body.indexOf('</section>', page.body.indexOf(`data-connector="${id}"`)))
  t.match(section('crm'), /data-health>ok/)
  t.match(section('crm'), /data-circuit>closed</)
  t.match(section('crm'), /2 \(0 down\)/)
  t.match(section('crm'), /<polyline[^>]+points="\d+,\d+ \d+,\d+"/, 'a line through the two checks')
  t.match(section('billing'), /data-health>down/)
  t.match(section('billing'), /data-circuit>open</, 'down: its circuit is open')
  t.equal(section('billing').split('fill="#9b1c1c"').length - 1, 2, 'each down check marked')
  t.match(section('crm'), /data-sweep>never</)
  t.match(page.body, /<svg class="chart" role="img" aria-labelledby="t-crm"/, 'the chart is named for screen readers')
})

t.test('hours out of range is a coded 400', async (t) => {
  const res = await c.get('/console/connectors?hours=0')
  t.equal(res.statusCode, 400)
  t.match(res.body, /data-code>DSR_VALIDATION_FAILED</)
})
