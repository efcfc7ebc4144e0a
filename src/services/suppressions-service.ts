import type { DbHandle, TxHandle } from '../db/client.js'
import type { StoredSubject } from '../db/schema.js'
import type { RequestRow } from '../db/repositories/requests-repository.js'
import { createRequestsRepository } from '../db/repositories/requests-repository.js'
import { createSuppressionsRepository, type RequestEntry } from '../db/repositories/suppressions-repository.js'
import type { CheckPurpose } from '../domain/purposes.js'
import type { RequestType } from '../domain/requests.js'
import { personKeys } from '../domain/person-keys.js'
import { entryPurposes, SUPPRESSING_TYPES, suppressingPurposes } from '../domain/suppressions.js'
import type { Keyring } from '../receipts/keys.js'
import { Errors, validationError } from '../errors.js'
import { normaliseSubject } from './request-rules.js'

/** Why a purpose is suppressed: one request's entry, never the person's identifiers. */
export interface SuppressionReason {
  request_id: string
  type: string
  /** Every purpose the request's entry stops, in force now. */
  purposes: string[]
  since: string
}

export interface CheckAnswer {
  purpose: CheckPurpose
  result: 'allowed' | 'suppressed'
  /** The entries that suppress it, oldest first; empty when allowed. */
  entries: SuppressionReason[]
}

/** One purpose of a request's entry on the list, in force or ended. */
export interface RequestSuppression {
  purpose: string
  since: string
  in_force: boolean
  ended_at: string | null
  end_reason: string | null
}

/**
 * The suppression list as the rest of the service uses it: requests put their entries on it when
 * they are verified (startIn) and end them when lifted (the fulfilment service) or rejected or
 * cancelled (the requests repository); other systems ask it whether they may process a person for
 * a purpose (check). Identifiers are hashed with the keyring's HMAC secret (personKeys), so the list
 * outlives the redaction of its requests and holds no readable identifier.
 */
export function createSuppressionsService (deps: { dbh: DbHandle, keyring: Pick<Keyring, 'hmac'> }) {
  const list = createSuppressionsRepository(deps.dbh)
  const requests = createRequestsRepository(deps.dbh)
  const keysOf = async (subject: StoredSubject) => personKeys(subject, (await deps.keyring.hmac()).secret)

  return {
    /** Loads the HMAC secret, so that no later call waits for it inside a transaction. */
    async prime (): Promise<void> {
      await deps.keyring.hmac()
    },

    /**
     * A verified request's entries, in the caller's transaction: what it stops (the purposes it
     * named, else its type's: domain/suppressions.ts), for every identifier of the person, from `at`. Nothing for types
     * that suppress nothing. Returns how many rows were added.
     */
    async startIn (row: Pick<RequestRow, 'id' | 'type' | 'subject'> & { optOutPurposes?: readonly string[] | null }, at: Date, tx: TxHandle): Promise<number> {
      if (!SUPPRESSING_TYPES.includes(row.type as RequestType)) return 0
      const purposes = entryPurposes({ type: row.type as RequestType, optOutPurposes: row.optOutPurposes })
      return list.addIn({ requestId: row.id, requestType: row.type, purposes, keys: await keysOf(row.subject), since: at }, tx)
    },

    /** Ends a request's `processing` entries (its restriction was lifted), in the caller's transaction. */
    async liftIn (requestId: string, at: Date, tx: TxHandle): Promise<number> {
      return list.endIn(requestId, 'lifted', at, ['processing'], tx)
    },

    /** The other requests whose restriction of the same person is in force (see SuppressionsRepository.otherRestrictionsInForce). */
    async otherRestrictionsIn (requestId: string, tx: TxHandle): Promise<Array<{ requestId: string, requestType: string }>> {
      return list.otherRestrictionsInForce(requestId, tx)
    },

    /** May a system process this person for `purpose`? Suppressed while any entry in force stops it. */
    async check (input: { subject: StoredSubject, purpose: CheckPurpose }): Promise<CheckAnswer> {
      const subject = normaliseSubject(input.subject)
      if (subject.phone !== undefined && !/^\+[1-9][0-9]{6,14}$/.test(subject.phone)) {
        throw validationError([{ in: 'body', field: '/subject/phone', message: 'must have 7 to 15 digits' }])
      }
      const stops = suppressingPurposes(input.purpose)
      const entries = byRequest(await list.inForce(await keysOf(subject)))
        .filter((e) => e.purposes.some((p) => (stops as string[]).includes(p)))
      return { purpose: input.purpose, result: entries.length > 0 ? 'suppressed' : 'allowed', entries }
    },

    /** A request's entries, one per purpose; 404 for an unknown request. */
    async ofRequest (requestId: string): Promise<{ request_id: string, in_force: boolean, entries: RequestSuppression[] }> {
      if (!await requests.findById(requestId)) throw new Errors.RequestNotFound(requestId)
      const rows = await list.ofRequest(requestId)
      const entries = rows.map((r) => ({
        purpose: r.purpose,
        since: r.since.toISOString(),
        in_force: r.endedAt === null,
        ended_at: r.endedAt?.toISOString() ?? null,
        end_reason: r.endReason
      }))
      return { request_id: requestId, in_force: entries.some((e) => e.in_force), entries }
    }
  }
}

/** Rows (one per request and purpose) as one reason per request, oldest first. */
function byRequest (rows: RequestEntry[]): SuppressionReason[] {
  const out = new Map<string, SuppressionReason>()
  for (const r of rows) {
    const since = r.since.toISOString()
    const e = out.get(r.requestId) ?? { request_id: r.requestId, type: r.requestType, purposes: [], since }
    if (!e.purposes.includes(r.purpose)) e.purposes.push(r.purpose)
    if (since < e.since) e.since = since
    out.set(r.requestId, e)
  }
  return [...out.values()]
    .map((e) => ({ ...e, purposes: e.purposes.sort() }))
    .sort((a, b) => a.since.localeCompare(b.since) || a.request_id.localeCompare(b.request_id))
}

export type SuppressionsService = ReturnType<typeof createSuppressionsService>
