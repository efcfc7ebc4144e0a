import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError, EnvSchema } from '../../src/config.js'
import { createRegistry, parseConnectorFile } from '../../src/connectors/registry.js'
import { checkControllerInfo } from '../../src/archive/controller.js'
import { drivers } from '../../connectors/index.js'
import { CONTROLLER } from '../archive/fixtures.js'
import { NO_CHILD_COVERAGE } from '../child-env.js'
import { ROOT, nodeArgs } from '../paths.js'

t.setTimeout(180_000)
const quiet = { debug () {}, info () {}, warn () {}, error () {} }

/** A memory connector with two streams, and the processing block given. */
const crm = (processing: unknown) => ({
  id: 'crm',
  driver: 'memory',
  processing,
  settings: { streams: ['contacts', 'deals'].map((name) => ({ name, match: { email: 'email' }, records: [] })) }
})
const registry = async (processing: unknown) => createRegistry(parseConnectorFile({ connectors: [crm(processing)] }), { drivers, env: {}, log: quiet })

t.test('every stream needs purposes and a retention rule: a gap names the connector, stream and field', async (t) => {
  await t.rejects(registry(undefined), { name: 'ConfigError', message: /connector "crm": stream "contacts" has no purposes: give \/processing\/purposes or \/processing\/streams\/contacts\/purposes/ })
  await t.rejects(registry({ purposes: ['Sales'], streams: { contacts: { retention: { rule: 'Two years' } } } }),
    { name: 'ConfigError', message: /connector "crm": stream "deals" has no retention/ }, 'one stream covered is not enough')
  await t.rejects(registry({ retention: { rule: 'Two years' }, streams: { deals: { purposes: ['Sales'] } } }),
    /connector "crm": stream "contacts" has no purposes/)
  await t.rejects(registry({ purposes: [], retention: { rule: 'Two years' } }), /connector "crm": \/processing\/purposes/, 'an empty list is no purpose')
  await t.rejects(registry({ purposes: ['Sales'], retention: { period: 'P2Y' } }), /connector "crm": \/processing\/retention/, 'a period without its rule')
  await t.rejects(registry({ purposes: ['Sales'], retention: { rule: 'x' }, streams: { contact: {} } }),
    /connector "crm": \/processing\/streams\/contact names no stream of this connector \(its streams: contacts, deals\)/, 'a misspelt stream')
  await t.rejects(registry({ purposes: ['Sales'], retention: { rule: 'x' }, locations: [{ country: 'Germany', as: 'stored' }] }), /\/processing\/locations\/0\/country/)

  const ok = await registry({
    purposes: ['Sales'],
    retention: { rule: 'Two years after the last contact', period: 'P2Y' },
    streams: { deals: { purposes: [{ en: 'Accounting', 'zh-Hans': '会计' }], retention: { rule: 'Ten years (tax law)', period: 'P10Y' } } }
  })
  t.match(ok.get('crm')!.streams.map((s) => [s.name, s.processing]), [
    ['contacts', { purposes: ['Sales'], retention: { rule: 'Two years after the last contact', period: 'P2Y' }, recipients: [], locations: [] }],
    ['deals', { purposes: [{ en: 'Accounting', 'zh-Hans': '会计' }], retention: { rule: 'Ten years (tax law)', period: 'P10Y' } }]
  ], 'a stream overrides its connector, field by field')
})

t.test('a driver\'s own retention setting comes with the stream it applies to', async (t) => {
  const reg = await createRegistry(parseConnectorFile({
    connectors: [{
      id: 'results',
      driver: 'postgres',
      processing: { purposes: ['Scoring'], retention: { rule: 'One month after sending' } },
      settings: {
        url: { env: 'U' },
        datasets: [{ name: 'd', tables: [{ table: 'recipients', primary_key: ['id'], identity: [{ column: 'email', kind: 'email' }], erase: 'delete' }] }],
        retention: [{ table: 'recipients', column: 'sent_at', max_age: 'P1M', action: 'delete' }]
      }
    }]
  }), { drivers, env: { U: 'postgres://x@127.0.0.1:1/none' }, log: quiet })
  t.teardown(() => reg.get('results')!.connector.close?.())
  t.strictSame(reg.get('results')!.streams[0]!.processing.retention, { rule: 'One month after sending', enforced: { maxAge: 'P1M', from: 'sent_at', action: 'delete' } })
})

t.test('the company-wide information: the rights the law names, in every language it declares', async (t) => {
  const { rights, ...rest } = CONTROLLER
  const { complaint: _, ...noComplaint } = rights
  t.throws(() => checkControllerInfo({ ...rest, rights: noComplaint }, 'CONTROLLER_FILE c.json'), /CONTROLLER_FILE c\.json: \/rights must have required properties complaint/)
  t.throws(() => checkControllerInfo({ ...CONTROLLER, dpo: { email: 'dpo@x.example', name: { en: 'DPO' } } }, 'c'),
    { name: 'ConfigError', message: 'c: /dpo/name has no "zh-Hans" text, and "zh-Hans" is one of /languages' })
  t.ok(checkControllerInfo({ ...CONTROLLER, languages: ['en'], dpo: { email: 'dpo@x.example', name: { en: 'DPO' } } }, 'c'), 'English alone needs English alone')
  t.type(checkControllerInfo(CONTROLLER, 'c'), Object)
  t.ok(ConfigError)
})

t.test('the service stops at start on a stream without a retention rule, naming it (exit 78)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dsr-processing-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'connectors.json')
  await writeFile(file, JSON.stringify({ connectors: [crm({ purposes: ['Sales'], streams: { contacts: { retention: { rule: 'Two years' } } } })] }))
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const key of Object.keys(EnvSchema.properties)) delete env[key]
  for (const key of Object.keys(env)) if (key === 'NODE_OPTIONS' || key.startsWith('TAP') || key.startsWith('_TAPJS_')) delete env[key]
  const child = spawn(process.execPath, nodeArgs('src/server.ts'), {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...env, ...NO_CHILD_COVERAGE, CONNECTORS_FILE: file, DATA_DIR: dir, PORT: '0', HOST: '127.0.0.1' }
  })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
  const code = await new Promise((resolve) => child.on('close', resolve))
  clearTimeout(timer)
  t.equal(code, 78, 'EX_CONFIG: it does not start')
  t.equal(stderr.trim(), 'connector "crm": stream "deals" has no retention: give /processing/retention or /processing/streams/deals/retention (GDPR Art 15(1) requires it)')
})
