import type { Test } from 'tap'
import {
  ConnectorError, type CollectedItem, type Connector, type ConnectorContext, type EraseOutcome, type OptOutOutcome, type OptOutPurposeName,
  type RectifyOutcome, type RestrictOutcome, type StreamInfo, type SubjectIdentity
} from '../../connectors/types.js'

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
  /**
   * For connectors configured to restrict: how many of `who`'s records carry the restriction mark,
   * read from the system itself. Required when `capabilities` includes 'restrict': the contract's
   * restriction part runs for every connector that declares it. Settings-dependent capabilities
   * ('restrict', 'retention') are declared by `capabilitiesFor(config)`.
   */
  restrictedOf? (who: SubjectIdentity): Promise<number>
  /**
   * For connectors that opt out: the purposes this system can stop (marketing when not given), and
   * how many of `who`'s records say they opted out of `purpose`, read from the system itself.
   * Required when `capabilities` includes 'opt_out'.
   */
  optOut?: { purposes?: OptOutPurposeName[], optedOutOf (who: SubjectIdentity, purpose: OptOutPurposeName): Promise<number> }
  /**
   * For connectors that rectify: changes to a field that does not identify the person, and how many
   * of `who`'s records hold them, read from the system itself. Required when `capabilities` includes 'rectify'.
   */
  rectify?: { changes: Record<string, string>, holding (who: SubjectIdentity): Promise<number> }
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
      t.equal(typeof f.connector.optOut === 'function', f.capabilities.includes('opt_out'), 'opt_out: declared exactly when implemented')
      const restricts = typeof f.connector.restrict === 'function'
      t.equal(restricts, typeof f.connector.unrestrict === 'function', 'restrict and unrestrict come together')
      if (restricts) t.ok(f.capabilities.includes('restrict'), 'restrict: declared when implemented')
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

    if (f.capabilities.includes('restrict') && f.restrictedOf) {
      const restrictedOf = f.restrictedOf.bind(f)
      t.test('restrict marks only the subject\'s records, idempotently; unrestrict reverses it', async (t) => {
        t.equal(typeof f.connector.restrict, 'function', 'restrict: implemented when declared')
        t.equal(typeof f.connector.unrestrict, 'function', 'unrestrict: implemented when declared')
        const records = async (who: SubjectIdentity) => (await drain(f.connector.collect!(ctx(who))))
          .map((i) => i.type === 'record' ? { stream: i.stream, key: i.key, data: i.data } : { stream: i.stream, key: i.key })
        const otherBefore = f.capabilities.includes('collect') ? await records(f.other) : []
        const otherMarked = await restrictedOf(f.other)
        t.equal(await restrictedOf(f.subject), 0, 'the subject starts unrestricted')

        const first: RestrictOutcome[] = await drain(f.connector.restrict!(ctx(f.subject)))
        for (const o of first) {
          t.ok(declared.has(o.stream), `outcome for declared stream ${o.stream}`)
          t.ok(o.status === 'restricted' || o.status === 'not_found', `restrict yields restricted or not_found (${o.status})`)
        }
        const placed = first.reduce((n, o) => n + (o.status === 'restricted' ? o.count : 0), 0)
        t.ok(placed > 0, 'the first restrict marks something')
        t.equal(await restrictedOf(f.subject), placed, 'the subject\'s records are marked, as many as reported')
        t.equal(await restrictedOf(f.other), otherMarked, 'nobody else is marked')

        const second = await drain(f.connector.restrict!(ctx(f.subject)))
        t.ok(second.every((o) => o.status === 'not_found' || o.count === 0), 'a second restrict changes nothing')
        t.strictSame(second.map((o) => `${o.stream}:${o.status}`), first.map((o) => `${o.stream}:${o.status}`), 'and reports the same streams')
        const nobody = await drain(f.connector.restrict!(ctx({ email: 'nobody-at-all@example.invalid' })))
        t.ok(nobody.every((o) => o.status === 'not_found'), 'an unknown person: nothing restricted')

        const lifted = await drain(f.connector.unrestrict!(ctx(f.subject)))
        t.ok(lifted.every((o) => declared.has(o.stream) && (o.status === 'unrestricted' || o.status === 'not_found')), 'unrestrict yields unrestricted or not_found')
        t.equal(lifted.reduce((n, o) => n + (o.status === 'unrestricted' ? o.count : 0), 0), placed, 'unrestrict lifts what restrict placed')
        t.equal(await restrictedOf(f.subject), 0, 'the subject is unrestricted again')
        const again = await drain(f.connector.unrestrict!(ctx(f.subject)))
        t.ok(again.every((o) => o.status === 'not_found' || o.count === 0), 'a second unrestrict changes nothing')
        t.equal(await restrictedOf(f.other), otherMarked, 'nobody else was touched')
        if (f.capabilities.includes('collect')) {
          t.strictSame(await records(f.other), otherBefore, 'the other person\'s records are as they were')
        }
      })
    } else if (f.capabilities.includes('restrict')) {
      t.fail(`${name} declares restrict, but its fixture gives no restrictedOf to read the mark back: the restriction contract cannot be checked`)
    }

    if (f.capabilities.includes('opt_out') && f.optOut) {
      const { optedOutOf } = f.optOut
      const purposes = f.optOut.purposes ?? ['marketing']
      t.test('opt_out stops each purpose asked, only for the subject, idempotently, and deletes nothing', async (t) => {
        t.equal(typeof f.connector.optOut, 'function', 'optOut: implemented when declared')
        const optOut = (who: SubjectIdentity, asked: OptOutPurposeName[]) => drain(f.connector.optOut!({ ...ctx(who), purposes: asked }))
        const keys = async (who: SubjectIdentity) => f.capabilities.includes('collect') ? (await drain(f.connector.collect!(ctx(who)))).map((i) => `${i.stream}/${i.key}`).sort() : []
        const marks = async (who: SubjectIdentity) => Object.fromEntries(await Promise.all(purposes.map(async (p) => [p, await optedOutOf(who, p)] as const)))
        const subjectKeys = await keys(f.subject)
        const otherKeys = await keys(f.other)
        const otherMarks = await marks(f.other)
        for (const purpose of purposes) {
          const before = await marks(f.subject)
          const first: OptOutOutcome[] = await optOut(f.subject, [purpose])
          for (const o of first) {
            t.ok(declared.has(o.stream), `outcome for declared stream ${o.stream}`)
            t.ok(['opted_out', 'not_found', 'not_supported'].includes(o.status), `opt_out yields opted_out, not_found or not_supported (${o.status})`)
            if (o.status !== 'not_found') t.strictSame(o.purposes, [purpose], `${o.stream}: names the purpose asked, and only it`)
          }
          const placed = first.reduce((n, o) => n + (o.status === 'opted_out' ? o.count : 0), 0)
          t.ok(first.some((o) => o.status === 'opted_out'), `${purpose}: some stream stops it`)
          t.equal(await optedOutOf(f.subject, purpose), before[purpose]! + placed, `${purpose}: as many records say so as reported changed`)
          const after = await marks(f.subject)
          for (const other of purposes.filter((p) => p !== purpose)) t.equal(after[other], before[other], `${purpose}: ${other} is left alone`)
          const again = await optOut(f.subject, [purpose])
          t.ok(again.every((o) => o.status !== 'opted_out' || o.count === 0), `${purpose}: a re-run changes nothing`)
          t.strictSame(again.map((o) => `${o.stream}:${o.status}`), first.map((o) => `${o.stream}:${o.status}`), 'and reports the same streams')
        }
        const all = await optOut(f.subject, purposes)
        t.ok(all.every((o) => o.status !== 'opted_out' || o.count === 0), 'all purposes at once, after each one: nothing left to change')
        const nobody = await optOut({ email: 'nobody-at-all@example.invalid' }, purposes)
        t.ok(nobody.every((o) => o.status === 'not_found'), 'an unknown person: nothing opted out')
        t.strictSame(await marks(f.other), otherMarks, 'nobody else is opted out')
        t.strictSame(await keys(f.other), otherKeys, 'the other person\'s records are all there')
        t.strictSame(await keys(f.subject), subjectKeys, 'the subject\'s records are kept: an opt-out never deletes')
      })
    } else if (f.capabilities.includes('opt_out')) {
      t.fail(`${name} declares opt_out, but its fixture gives no optOut.optedOutOf to read the opt-out back: the opt-out contract cannot be checked`)
    }

    if (f.capabilities.includes('rectify') && f.rectify) {
      const { changes, holding } = f.rectify
      t.test('rectify sets the changes on the subject\'s records only, idempotently', async (t) => {
        t.equal(typeof f.connector.rectify, 'function', 'rectify: implemented when declared')
        const rectify = (who: SubjectIdentity) => drain(f.connector.rectify!({ ...ctx(who), changes }))
        const otherBefore = f.capabilities.includes('collect') ? await drain(f.connector.collect!(ctx(f.other))) : []
        const first: RectifyOutcome[] = await rectify(f.subject)
        for (const o of first) {
          t.ok(declared.has(o.stream), `outcome for declared stream ${o.stream}`)
          t.ok(o.status === 'rectified' || o.status === 'not_found', `rectify yields rectified or not_found (${o.status})`)
        }
        const rectified = first.reduce((n, o) => n + (o.status === 'rectified' ? o.count : 0), 0)
        t.ok(rectified > 0, 'the first rectify changes something')
        const held = await holding(f.subject)
        t.ok(held > 0, 'the subject\'s records hold the new values')
        const again = await rectify(f.subject)
        t.strictSame(again.map((o) => `${o.stream}:${o.status}`), first.map((o) => `${o.stream}:${o.status}`), 'a re-run reports the same streams')
        t.equal(await holding(f.subject), held, 'and leaves the same values')
        t.equal(await holding(f.other), 0, 'nobody else holds them')
        const nobody = await rectify({ email: 'nobody-at-all@example.invalid' })
        t.ok(nobody.every((o) => o.status === 'not_found'), 'an unknown person: nothing rectified')
        if (f.capabilities.includes('collect')) {
          const otherAfter = await drain(f.connector.collect!(ctx(f.other)))
          t.same(otherAfter.map((i) => i.type === 'record' ? i.data : i.key), otherBefore.map((i) => i.type === 'record' ? i.data : i.key), 'the other person\'s records are as they were')
        }
      })
    } else if (f.capabilities.includes('rectify')) {
      t.fail(`${name} declares rectify, but its fixture gives no rectify.holding to read the values back: the rectify contract cannot be checked`)
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
          // Found again by every identifier the subject was seeded with: only what the system said it keeps may be left.
          const kept = new Set(first.filter((o) => o.status === 'retained' || o.status === 'deferred').map((o) => o.stream))
          const after = await drain(f.connector.collect!(ctx(f.subject)))
          t.strictSame(after.filter((i) => !kept.has(i.stream)).map((i) => `${i.stream}/${i.key}`), [],
            `nothing of the subject is left to collect outside the streams reported retained or deferred (${[...kept].join(', ') || 'none'})`)
          t.same((await drain(f.connector.collect!(ctx(f.other)))).map((i) => i.key).sort(), otherBefore.map((i) => i.key).sort(), 'the other person is untouched')
        }
      })
    }
  })
}
