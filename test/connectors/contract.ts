import type { Test } from 'tap'
import { ConnectorError, type CollectedItem, type Connector, type ConnectorContext, type EraseOutcome, type StreamInfo, type SubjectIdentity } from '../../connectors/types.js'

/** What a connector's test gives the shared suite: a fresh connector over a system holding the subject. */
export interface ContractFixture {
  connector: Connector
  capabilities: readonly string[]
  streams: readonly StreamInfo[]
  /** Someone present in the system, and someone else who must never be touched. */
  subject: SubjectIdentity
  other: SubjectIdentity
  /** Whether a collected record belongs to `who` (by the system's own identity fields). */
  belongsTo (item: CollectedItem, who: SubjectIdentity): boolean
  cleanup? (): Promise<void>
}

const quiet = { debug () {}, info () {}, warn () {}, error () {} }

function ctx (subject: SubjectIdentity, signal = new AbortController().signal): ConnectorContext {
  return { requestId: '00000000-0000-4000-8000-000000000001', subject, signal, log: quiet }
}

async function drain<T> (it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

/**
 * The contract every connector must keep (connectors/types.ts). Each connector's test file calls
 * this with its own fixture; the suite knows nothing of any particular system.
 */
export function connectorContract (t: Test, name: string, make: () => Promise<ContractFixture>): void {
  t.test(`${name}: connector contract`, async (t) => {
    const f = await make()
    t.teardown(async () => {
      await f.connector.close?.()
      await f.cleanup?.()
    })
    const declared = new Set(f.streams.map((s) => s.name))

    t.test('capabilities are honest', async (t) => {
      for (const action of ['collect', 'erase'] as const) {
        t.equal(typeof f.connector[action] === 'function', f.capabilities.includes(action), `${action}: declared exactly when implemented`)
      }
      t.ok(f.streams.length > 0, 'declares its streams')
      for (const s of f.streams) t.match(s, { name: /^\S+$/, description: String, categories: Array }, `stream ${s.name} is described`)
    })

    t.test('health is cheap, bounded and never throws', async (t) => {
      const started = Date.now()
      const ok = await f.connector.health({ signal: AbortSignal.timeout(5000) })
      t.equal(ok.status, 'ok')
      t.ok(Date.now() - started < 5000, 'answers within its bound')
      const aborted = new AbortController()
      aborted.abort()
      const result = await f.connector.health({ signal: aborted.signal }).catch((err: unknown) => err)
      t.notOk(result instanceof Error, 'an aborted health check resolves rather than throws')
    })

    if (f.capabilities.includes('collect')) {
      t.test('collect yields declared streams, only the subject\'s data', async (t) => {
        const items = await drain(f.connector.collect!(ctx(f.subject)))
        t.ok(items.length > 0, 'finds the subject')
        for (const item of items) {
          t.ok(declared.has(item.stream), `stream ${item.stream} is declared`)
          t.ok(typeof item.key === 'string' && item.key.length > 0, 'every item has a key')
          if (item.type === 'record') t.notOk(f.belongsTo(item, f.other), 'nothing of anyone else')
        }
        const nobody = await drain(f.connector.collect!(ctx({ email: 'nobody-at-all@example.invalid' })))
        t.equal(nobody.length, 0, 'an unknown person yields nothing')
      })

      t.test('collect stops when aborted', async (t) => {
        const aborted = new AbortController()
        aborted.abort()
        const result = await drain(f.connector.collect!(ctx(f.subject, aborted.signal))).catch((err: unknown) => err)
        t.ok(result instanceof ConnectorError || (Array.isArray(result) && result.length === 0),
          'an aborted collect fails with a ConnectorError (or yields nothing)')
      })
    }

    if (f.capabilities.includes('erase')) {
      t.test('erase is idempotent and leaves others alone', async (t) => {
        const otherBefore = f.capabilities.includes('collect') ? await drain(f.connector.collect!(ctx(f.other))) : []
        const first: EraseOutcome[] = await drain(f.connector.erase!(ctx(f.subject)))
        t.ok(first.some((o) => o.status === 'erased' || o.status === 'deferred'), 'the first erase does something')
        for (const o of first) t.ok(declared.has(o.stream), `outcome for declared stream ${o.stream}`)
        const second = await drain(f.connector.erase!(ctx(f.subject)))
        t.ok(second.every((o) => o.status === 'not_found' || o.status === 'retained' || o.status === 'deferred'),
          'a second erase finds nothing more to erase')
        if (f.capabilities.includes('collect')) {
          const after = await drain(f.connector.collect!(ctx(f.subject)))
          t.ok(after.every((i) => i.type === 'record' && !f.belongsTo(i, f.subject)), 'nothing of the subject is left to collect')
          t.same((await drain(f.connector.collect!(ctx(f.other)))).map((i) => i.key).sort(), otherBefore.map((i) => i.key).sort(), 'the other person is untouched')
        }
      })
    }
  })
}
