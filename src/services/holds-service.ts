import { randomUUID } from 'node:crypto'
import type { ConnectorRegistry } from '../connectors/registry.js'
import type { DbHandle } from '../db/client.js'
import { createHoldsRepository, type HoldRow } from '../db/repositories/holds-repository.js'
import { createSystemEventsRepository } from '../db/repositories/system-events-repository.js'
import { HOLD_GROUNDS, HOLD_GROUND_CODES, isHoldGround } from '../domain/hold-grounds.js'
import { personKeys } from '../domain/person-keys.js'
import { Errors, validationError } from '../errors.js'
import type { Keyring } from '../receipts/keys.js'
import type { CreateHold, HoldListQuery, LegalHold, ReleaseHold } from '../schemas/holds.js'
import { normaliseSubject } from './request-rules.js'

const YEAR_MS = 365.25 * 24 * 3_600_000
/** The furthest a review date may lie ahead: a hold is looked at again at least this often. */
const MAX_REVIEW_YEARS = 10

/**
 * Legal holds on a person (GDPR Art 17(3)): placed with a ground, a reference, a review date and
 * what they cover, and released with a reason. The person's identifiers become keyed hashes
 * (personKeys under the keyring's HMAC secret) and are then dropped: never stored, answered or
 * logged. Every change is a system event of the audit trail (legal_hold_placed, legal_hold_released),
 * with the hold's id, ground, reference and what it covers, never the notes or the reason.
 */
export function createHoldsService (deps: { dbh: DbHandle, registry: ConnectorRegistry, keyring: Pick<Keyring, 'hmac'> }) {
  const holds = createHoldsRepository(deps.dbh)
  const events = createSystemEventsRepository(deps.dbh)

  function checkCovers (covers: CreateHold['covers']): void {
    for (const [i, cover] of (covers ?? []).entries()) {
      const instance = deps.registry.get(cover.connector)
      if (!instance) throw new Errors.HoldCoversInvalid(`/covers/${i}/connector: no connector ${cover.connector} is configured`)
      const declared = new Set(instance.streams.map((s) => s.name))
      const unknown = (cover.streams ?? []).filter((s) => !declared.has(s))
      if (unknown.length > 0) throw new Errors.HoldCoversInvalid(`/covers/${i}/streams: ${cover.connector} declares no stream ${unknown.join(', ')}`)
    }
  }

  return {
    grounds () {
      return { data: HOLD_GROUND_CODES.map((code) => ({ code, article: HOLD_GROUNDS[code].article, title: HOLD_GROUNDS[code].title })) }
    },

    async create (input: CreateHold, actor: string, now = new Date()): Promise<LegalHold> {
      const subject = normaliseSubject(input.subject)
      if (subject.phone !== undefined && !/^\+[1-9][0-9]{6,14}$/.test(subject.phone)) {
        throw validationError([{ in: 'body', field: '/subject/phone', message: 'must have 7 to 15 digits' }])
      }
      const reviewAt = new Date(input.review_at)
      if (reviewAt.getTime() <= now.getTime()) throw new Errors.HoldReviewInvalid('must be in the future')
      if (reviewAt.getTime() > now.getTime() + MAX_REVIEW_YEARS * YEAR_MS) throw new Errors.HoldReviewInvalid(`must be at most ${MAX_REVIEW_YEARS} years ahead`)
      const covers = input.covers ?? []
      checkCovers(covers)
      const { secret } = await deps.keyring.hmac()
      const keys = personKeys(subject, secret)
      const row = await deps.dbh.transaction(async (tx) => {
        const hold = await holds.insert({
          id: randomUUID(),
          personKeys: keys,
          ground: input.ground,
          reference: input.reference.trim(),
          note: input.note ?? null,
          reviewAt,
          covers: covers.map((c) => ({ connector: c.connector, ...(c.streams ? { streams: [...c.streams] } : {}) })),
          createdBy: actor
        }, tx)
        await events.record({ actor, action: 'legal_hold_placed', details: { ...auditDetails(hold), review_at: hold.reviewAt.toISOString(), identifiers: keys.length } }, tx)
        return hold
      })
      return view(row, now)
    },

    async list (query: HoldListQuery, now = new Date()): Promise<{ data: LegalHold[] }> {
      const rows = await holds.list({ active: query.status === undefined ? undefined : query.status === 'active', limit: query.limit ?? 100 })
      return { data: rows.map((r) => view(r, now)) }
    },

    async get (id: string, now = new Date()): Promise<LegalHold> {
      const row = await holds.findById(id)
      if (!row) throw new Errors.HoldNotFound(id)
      return view(row, now)
    },

    async release (id: string, input: ReleaseHold, actor: string, now = new Date()): Promise<LegalHold> {
      const row = await deps.dbh.transaction(async (tx) => {
        const released = await holds.release(id, actor, input.reason.trim(), tx)
        if (!released) {
          if (await holds.findById(id, tx)) throw new Errors.HoldAlreadyReleased()
          throw new Errors.HoldNotFound(id)
        }
        await events.record({ actor, action: 'legal_hold_released', details: auditDetails(released) }, tx)
        return released
      })
      return view(row, now)
    }
  }
}

export type HoldsService = ReturnType<typeof createHoldsService>

/** What the audit trail says of a hold: no identifier, hash, note or reason. */
function auditDetails (hold: HoldRow): Record<string, unknown> {
  return { hold_id: hold.id, ground: hold.ground, reference: hold.reference, covers: hold.covers }
}

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString())

/** A hold as the API answers it: how many identifiers it knows the person by, never which. */
function view (row: HoldRow, now: Date): LegalHold {
  const reviewAt = new Date(row.reviewAt)
  const active = row.releasedAt === null
  return {
    id: row.id,
    status: active ? 'active' : 'released',
    ground: row.ground as LegalHold['ground'],
    article: isHoldGround(row.ground) ? HOLD_GROUNDS[row.ground].article : '',
    reference: row.reference,
    note: row.note,
    review_at: reviewAt.toISOString(),
    review_due: active && reviewAt.getTime() < now.getTime(),
    covers: row.covers,
    identifiers: row.personKeys.length,
    created_by: row.createdBy,
    created_at: iso(row.createdAt)!,
    released_at: iso(row.releasedAt),
    released_by: row.releasedBy,
    release_reason: row.releaseReason
  }
}
