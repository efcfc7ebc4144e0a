import type { ConnectorInstance } from '../connectors/registry.js'
import type { DbHandle } from '../db/client.js'
import { createHoldsRepository, type HoldCover } from '../db/repositories/holds-repository.js'
import { holdReason, isHoldGround } from '../domain/hold-grounds.js'
import { personKeys } from '../domain/person-keys.js'
import type { Keyring } from '../receipts/keys.js'
import type { RetainedStream, SubjectIdentity } from '../../connectors/types.js'

/** An active legal hold as the engine needs it: what it covers and what to report. Never the person's keys. */
export interface ActiveHold { id: string, ground: string, reference: string, covers: HoldCover[] }

/** The active holds on a person, found by the keyed hashes of their identifiers. */
export type HoldLookup = (subject: SubjectIdentity) => Promise<ActiveHold[]>

export function createHoldLookup (deps: { dbh: DbHandle, keyring: Pick<Keyring, 'hmac'> }): HoldLookup {
  const holds = createHoldsRepository(deps.dbh)
  return async (subject) => {
    const { secret } = await deps.keyring.hmac()
    const rows = await holds.activeFor(personKeys(subject, secret))
    return rows.map((r) => ({ id: r.id, ground: r.ground, reference: r.reference, covers: r.covers }))
  }
}

/**
 * What the holds on a person mean for one system's erasure: `whole` when the system is not to be
 * erased at all (a hold covers all of it, or covers streams of a connector that cannot keep single
 * streams), and the streams to report retained (with the hold's reason, ground and reference), or
 * to pass the connector as `ctx.retain`. Nothing when no hold covers the system.
 */
export function holdPlan (instance: Pick<ConnectorInstance, 'id' | 'streams' | 'connector'>, holds: readonly ActiveHold[]): { whole: boolean, retain: RetainedStream[] } {
  const all = instance.streams.map((s) => s.name)
  const retain: RetainedStream[] = []
  let whole = false
  for (const hold of holds) {
    const reason = isHoldGround(hold.ground) ? holdReason(hold.ground, hold.reference) : `legal hold ${hold.reference}`
    // No covers: every system.
    const covers = hold.covers.length === 0 ? [{ connector: instance.id }] : hold.covers.filter((c) => c.connector === instance.id)
    for (const cover of covers) {
      const streams = cover.streams?.length ? cover.streams.filter((s) => all.includes(s)) : all
      const partial = streams.length < all.length
      if (partial && instance.connector.skipsStreams === true) {
        for (const stream of streams) retain.push({ stream, reason, ground: hold.ground, reference: hold.reference })
      } else {
        whole = true
        const why = partial ? `${reason}; this system cannot keep single streams, so all of it is kept` : reason
        for (const stream of all) retain.push({ stream, reason: why, ground: hold.ground, reference: hold.reference })
      }
    }
  }
  return { whole, retain: dedupe(retain) }
}

function dedupe (list: RetainedStream[]): RetainedStream[] {
  const seen = new Set<string>()
  return list.filter((r) => {
    const key = `${r.stream}\n${r.reason}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}
