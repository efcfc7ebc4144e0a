import { CompactSign } from 'jose'
import type { DbHandle } from '../db/client.js'
import { createAuditRepository } from '../db/repositories/audit-repository.js'
import type { Keyring } from '../receipts/keys.js'
import { chainLinkHash, requestLinkHash, type ChainLink } from './chain.js'

export const HEAD_TYPE = 'dsr-audit-head+json'

/** What a signed head says (the JWS payload). */
export interface AuditHeadPayload { position: number, chain_hash: string, signed_at: string }

/**
 * The audit_seal scheduled job (AUDIT_SEAL_CRON): appends every committed event not yet in the
 * chain, in batches of `batchSize`, each batch in one transaction: computes its content hash (SQL,
 * migration 0013), keeps it on the event and in its link; then, if the chain grew since the last
 * signed head, signs its head with the receipt key and stores it.
 *
 * Why the service-wide chain is built here and not when an event is written: intake stores 50
 * requests a second and connector outcomes arrive from many workers at once; chaining at insert
 * would make every writer wait for the previous event's hash, one global lock. The per-request chain
 * is built here too, because the events of one request are not all written under one lock (a
 * task's outcome is written under the task's row, by whichever worker ran it) and taking the request's
 * row there would add a lock order that other paths (request first, then its tasks) could deadlock
 * against. Even the content hash is computed here rather than by an insert trigger: a row trigger on
 * request_events, doing nothing at all, cost intake a quarter of its throughput. So an event is
 * protected from the run that seals it on (within a minute): see README "Audit trail".
 *
 * Order and late commits: identity ids are taken before a transaction commits, so ids can commit
 * out of order. The chain does not follow ids: a link's position is given here, in the order this
 * step takes events, and an event is taken once it is committed and still unsealed (partial index
 * on chain_position is null). An event whose transaction commits after a run, with a lower id than
 * events that run sealed, is simply sealed by the next run, at a later position; nothing is skipped,
 * so no horizon is needed. Runs are serialized by an advisory lock that only seal runs take.
 */
export async function sealAuditChain (deps: { dbh: DbHandle, keyring: Pick<Keyring, 'signing'> }, opts: { now?: Date, batchSize?: number, maxBatches?: number } = {}) {
  const audit = createAuditRepository(deps.dbh)
  const batchSize = opts.batchSize ?? 2000
  const maxBatches = opts.maxBatches ?? 100
  let sealed = 0
  for (let batch = 0; batch < maxBatches; batch++) {
    const done = await deps.dbh.transaction(async (tx) => {
      await audit.lockSeal(tx)
      const events = await audit.lockUnsealed(batchSize, tx)
      if (events.length === 0) return 0
      const tip = await audit.tip(tx)
      const requestTips = await audit.requestTips([...new Set(events.flatMap((e) => e.requestId ?? []))], tx)
      let position = tip?.position ?? 0
      let previous = tip?.chainHash ?? null
      const links: Array<ChainLink & { textHash: string | null, textSalt: string | null }> = []
      for (const e of events) {
        position += 1
        let requestHash: string | null = null
        if (e.requestId !== null) {
          requestHash = requestLinkHash(requestTips.get(e.requestId) ?? null, e.eventId, e.contentHash)
          requestTips.set(e.requestId, requestHash)
        }
        const link = { position, source: e.source, eventId: e.eventId, requestId: e.requestId, contentHash: e.contentHash, requestHash }
        previous = chainLinkHash(previous, link)
        links.push({ ...link, chainHash: previous, textHash: e.textHash, textSalt: e.textSalt })
      }
      await audit.append(links, tx)
      return events.length
    })
    sealed += done
    if (done < batchSize) break
  }
  const head = await signHead(deps, opts.now ?? new Date())
  return { sealed, head_position: head.position, signed: head.signed }
}

/** Signs the chain's head unless the last signed head is already at it. */
async function signHead (deps: { dbh: DbHandle, keyring: Pick<Keyring, 'signing'> }, now: Date): Promise<{ position: number, signed: boolean }> {
  const audit = createAuditRepository(deps.dbh)
  const tip = await audit.tip()
  if (tip === null) return { position: 0, signed: false }
  const last = await audit.latestHead()
  if (last !== null && last.position >= tip.position) return { position: last.position, signed: false }
  const key = await deps.keyring.signing()
  const payload: AuditHeadPayload = { position: tip.position, chain_hash: tip.chainHash, signed_at: now.toISOString() }
  const jws = await new CompactSign(Buffer.from(JSON.stringify(payload), 'utf8'))
    .setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: HEAD_TYPE })
    .sign(key.privateKey)
  await audit.insertHead({ position: tip.position, chainHash: tip.chainHash, signedAt: now, kid: key.kid, jws })
  return { position: tip.position, signed: true }
}
