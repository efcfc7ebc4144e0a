import t, { type Test } from 'tap'
import { mkdtemp, writeFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError } from '../../src/config.js'
import { createRegistry, parseConnectorFile, readConnectorFile } from '../../src/connectors/registry.js'
import { drivers } from '../../connectors/index.js'
import { TEST_PROCESSING } from '../helper.js'

const quiet = { debug () {}, info () {}, warn () {}, error () {} }
const memory = (id: string, settings: Record<string, unknown> = {}) => ({
  id, driver: 'memory', processing: TEST_PROCESSING, settings: { streams: [{ name: 'contacts', match: { email: 'email' }, records: [] }], ...settings }
})
const pg = (id: string, url: unknown) => ({
  id,
  driver: 'postgres',
  processing: TEST_PROCESSING,
  settings: { url, datasets: [{ name: 'd', tables: [{ table: 'customers', primary_key: ['id'], identity: [{ column: 'email', kind: 'email' }], erase: 'delete' }] }] }
})

async function refused (t: Test, file: unknown, pattern: RegExp, env: Record<string, string> = {}) {
  await t.rejects(async () => createRegistry(parseConnectorFile(file), { drivers, env, log: quiet }), pattern)
}

t.test('a valid file makes one instance per enabled connector, with defaults', async (t) => {
  const registry = await createRegistry(parseConnectorFile({
    connectors: [memory('crm'), { ...memory('old'), enabled: false }, { ...memory('desk'), concurrency: 5, timeout_seconds: 30, max_attempts: 2 }]
  }), { drivers, env: {}, log: quiet })
  t.strictSame([...registry.keys()], ['crm', 'desk'], 'disabled connectors are left out')
  t.match(registry.get('crm'), { driver: 'memory', concurrency: 2, timeoutMs: 900_000, maxAttempts: 6, capabilities: ['collect', 'erase'] })
  t.match(registry.get('desk'), { concurrency: 5, timeoutMs: 30_000, maxAttempts: 2 })
  t.strictSame(registry.get('crm')!.streams.map((s) => s.name), ['contacts'])
})

t.test('secrets come from the environment, never from the file', async (t) => {
  await refused(t, { connectors: [pg('shop', 'postgres://user:secret@db/shop')] }, /connector "shop": \/settings\/url is a secret: give \{ "env": "VARIABLE" \}/)
  await refused(t, { connectors: [pg('shop', { env: 'SHOP_URL' })] }, /connector "shop": \/settings\/url needs environment variable SHOP_URL, which is not set/)
  const registry = await createRegistry(parseConnectorFile({ connectors: [pg('shop', { env: 'SHOP_URL' })] }), {
    drivers, env: { SHOP_URL: 'postgres://root@127.0.0.1:5432/test' }, log: quiet
  })
  t.ok(registry.get('shop'), 'resolved from the environment')
  await Promise.all([...registry.values()].map((c) => c.connector.close?.()))
})

t.test('mistakes stop boot with the connector and field named', async (t) => {
  t.throws(() => parseConnectorFile({ connectors: [{ id: 'Bad Id', driver: 'memory' }] }), /connector "Bad Id": \/id/)
  t.throws(() => parseConnectorFile({ connectors: [memory('crm'), memory('crm')] }), /connector "crm" is listed twice/)
  t.throws(() => parseConnectorFile({ connectors: [{ ...memory('crm'), concurrency: 0 }] }), /connector "crm": \/concurrency/)
  t.throws(() => parseConnectorFile({ connectors: [{ ...memory('crm'), extra: 1 }] }), /connector "crm"/)
  t.throws(() => parseConnectorFile({ nothing: [] }), ConfigError)
  await refused(t, { connectors: [{ id: 'crm', driver: 'salesforce', settings: {} }] }, /connector "crm": unknown driver "salesforce" \(known: memory, postgres[,)]/)
  await refused(t, { connectors: [memory('crm', { streams: [{ name: 'Contacts!', match: {}, records: [] }] })] }, /connector "crm": \/settings\/streams\/0\/name/)
  await refused(t, { connectors: [{ id: 'shop', driver: 'postgres', settings: { url: { env: 'U' }, datasets: [] } }] }, /connector "shop": \/settings\/datasets/, { U: 'postgres://x@y/z' })
})

t.test('files are read as JSON or YAML, with a clear error when they do not parse', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dsr-connectors-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'c.yaml'), 'connectors:\n  - id: crm\n    driver: memory\n    settings:\n      streams:\n        - name: contacts\n          match: { email: email }\n')
  t.equal(readConnectorFile(join(dir, 'c.yaml')).connectors[0]?.id, 'crm')
  await writeFile(join(dir, 'c.json'), '{"connectors": [')
  t.throws(() => readConnectorFile(join(dir, 'c.json')), /CONNECTORS_FILE: .*c\.json does not parse/)
  t.throws(() => readConnectorFile(join(dir, 'missing.json')), /CONNECTORS_FILE: cannot read .*missing\.json \(ENOENT\)/)
})

t.test('one table says which methods serve which capability: the registry refuses a driver without them, the planner plans by it', async (t) => {
  const { ACTIONS, methodsFor, TASK_ACTIONS } = await import('../../connectors/types.js')
  const { canDo } = await import('../../src/engine/planner.js')
  for (const action of TASK_ACTIONS) t.ok((ACTIONS[action].requires as readonly string[]).includes(ACTIONS[action].does), `${action} is done by a method it requires`)
  t.strictSame(methodsFor('restrict'), ['restrict', 'unrestrict'], 'placing a restriction needs lifting it too')
  const { Type } = await import('typebox')
  const halfRestrict = {
    driver: 'half',
    displayName: 'Half',
    version: 1,
    capabilities: ['collect', 'restrict'] as const,
    erasureCheck: { searchable: true as const, settleMs: 0 },
    streams: [],
    configSchema: Type.Object({}),
    secretFields: [],
    create: () => ({ health: async () => ({ status: 'ok' as const, latencyMs: 0 }), async * collect () {}, async * restrict () {} })
  }
  await t.rejects(createRegistry(parseConnectorFile({ connectors: [{ id: 'h', driver: 'half', settings: {} }] }), { drivers: [halfRestrict], env: {}, log: quiet }),
    /declares restrict but does not implement unrestrict/)
  const whole = { ...halfRestrict, driver: 'whole', create: () => ({ ...halfRestrict.create(), async * unrestrict () {} }) }
  const registry = await createRegistry(parseConnectorFile({ connectors: [{ id: 'w', driver: 'whole', settings: {} }] }), { drivers: [whole], env: {}, log: quiet })
  const instance = registry.get('w')!
  t.strictSame(TASK_ACTIONS.filter((a) => canDo(instance, a)), ['collect', 'restrict', 'unrestrict'], 'the planner gives it collect, restrict and unrestrict, nothing else')
})
