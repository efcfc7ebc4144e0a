import { compactVerify, decodeProtectedHeader, importJWK } from 'jose'
import type { DbHandle } from '../db/client.js'
import { createAuditRepository, type AuditRepository, type CheckedLink, type SignedHeadRow } from '../db/repositories/audit-repository.js'
import { Errors, JobErrors } from '../errors.js'
import type { Keyring } from '../receipts/keys.js'
import { chainLinkHash, requestLinkHash, type AuditSource, type BreakKind } from './chain.js'
import { HEAD_TYPE, type AuditHeadPayload } from './seal.js'

/** The first thing found broken, in chain order (links first, then signed heads). */
export interface AuditBreak {
  kind: BreakKind
  code: string
  /** The chain position where it broke. */
  position: number
  source: AuditSource | null
  event_id: number | null
  request_id: string | null
  message: string
}

export interface AuditReport {
  ok: boolean
  /** The request verified; null for the whole service. */
  request_id: string | null
  links_checked: number
  /** Events written but not sealed yet: nothing protects them until the next seal run (README, "Audit trail"). */
  unsealed_events: number
  /** The chain's last link (of the request, for a request). */
  head: { position: number, chain_hash: string, sealed_at: string } | null
  /** The latest signed head, and whether its signature verifies with the receipt keys. */
  signed_head: { position: number, chain_hash: string, signed_at: string, kid: string, jws: string, verified: boolean, covers_head: boolean } | null
  first_break: AuditBreak | null
}

export interface VerifyDeps { dbh: DbHandle, keyring: Pick<Keyring, 'jwks'> }

const CODES: Record<BreakKind, string> = {
  content_changed: JobErrors.AuditContentChanged.code,
  event_missing: JobErrors.AuditEventMissing.code,
  link_missing: JobErrors.AuditLinkMissing.code,
  link_changed: JobErrors.AuditLinkChanged.code,
  head_mismatch: JobErrors.AuditHeadMismatch.code,
  signature_invalid: JobErrors.AuditSignatureInvalid.code
}

const BATCH = 1000

function broke (kind: BreakKind, at: { position: number, source?: AuditSource | null, eventId?: number | null, requestId?: string | null }, message: string): AuditBreak {
  return { kind, code: CODES[kind], position: at.position, source: at.source ?? null, event_id: at.eventId ?? null, request_id: at.requestId ?? null, message }
}

/** What is wrong with a link's event, if anything. */
function eventBreak (link: CheckedLink): AuditBreak | null {
  const at = { position: link.position, source: link.source, eventId: link.eventId, requestId: link.requestId }
  if (!link.present) return broke('event_missing', at, `${link.source} event ${link.eventId} was sealed at position ${link.position} and is gone`)
  if (!link.intact) return broke('content_changed', at, `${link.source} event ${link.eventId} changed since it was written`)
  return null
}

/** Whether the signed head's signature verifies with one of the receipt keys, over exactly its stored columns. */
async function signatureVerifies (head: SignedHeadRow, keyring: Pick<Keyring, 'jwks'>): Promise<boolean> {
  try {
    const header = decodeProtectedHeader(head.jws)
    if (header.typ !== HEAD_TYPE || header.alg !== 'EdDSA') return false
    const jwk = (await keyring.jwks()).keys.find((k) => k.kid === header.kid)
    if (!jwk) return false
    const { payload } = await compactVerify(head.jws, await importJWK(jwk, 'EdDSA'))
    const signed = JSON.parse(Buffer.from(payload).toString('utf8')) as AuditHeadPayload
    return signed.position === head.position && signed.chain_hash === head.chainHash && signed.signed_at === head.signedAt.toISOString()
  } catch {
    return false
  }
}

/** The latest signed head checked against the chain as stored: a break, or null. */
async function headBreak (audit: AuditRepository, head: SignedHeadRow | null, verified: boolean): Promise<AuditBreak | null> {
  if (head === null) return null
  if (!verified) return broke('signature_invalid', { position: head.position }, `the signed head at position ${head.position} does not verify`)
  const stale = await audit.firstStaleHead()
  if (stale !== null) {
    return broke('head_mismatch', { position: stale.position }, `the chain at position ${stale.position} is not what the head signed there says`)
  }
  return null
}

async function report (audit: AuditRepository, deps: VerifyDeps, requestId: string | null, { checked, last, found }: Walked): Promise<AuditReport> {
  const head = await audit.latestHead()
  const verified = head !== null && await signatureVerifies(head, deps.keyring)
  const first = found ?? await headBreak(audit, head, verified)
  return {
    ok: first === null,
    request_id: requestId,
    links_checked: checked,
    unsealed_events: await audit.countUnsealed(requestId ?? undefined),
    head: last ? { position: last.position, chain_hash: last.chainHash, sealed_at: last.sealedAt.toISOString() } : null,
    signed_head: head
      ? { position: head.position, chain_hash: head.chainHash, signed_at: head.signedAt.toISOString(), kid: head.kid, jws: head.jws, verified, covers_head: last === null || head.position >= last.position }
      : null,
    first_break: first
  }
}

interface Walked { checked: number, last: CheckedLink | null, found: AuditBreak | null }

/** The whole chain in position order, up to its first break. */
async function walkChain (audit: AuditRepository): Promise<Walked> {
  let previous: string | null = null
  let last: CheckedLink | null = null
  for (let expected = 1; ;) {
    const links = await audit.linksAfter(expected - 1, BATCH)
    for (const link of links) {
      const at = { position: link.position, source: link.source, eventId: link.eventId, requestId: link.requestId }
      const checked = expected - 1
      if (link.position !== expected) {
        return { checked, last, found: broke('link_missing', { position: expected }, `no link at position ${expected} (the next is ${link.position}, ${link.source} event ${link.eventId})`) }
      }
      if (chainLinkHash(previous, link) !== link.chainHash) {
        return { checked, last, found: broke('link_changed', at, `the link of ${link.source} event ${link.eventId} does not follow from position ${link.position - 1}`) }
      }
      const found = eventBreak(link)
      if (found) return { checked, last, found }
      previous = link.chainHash
      last = link
      expected += 1
    }
    if (links.length < BATCH) return { checked: expected - 1, last, found: null }
  }
}

/** One request's links in position order, up to the first break. */
async function walkRequest (audit: AuditRepository, requestId: string): Promise<Walked> {
  let previousRequestHash: string | null = null
  let checked = 0
  let last: CheckedLink | null = null
  for (let after = 0; ;) {
    const links = await audit.requestLinksAfter(requestId, after, BATCH)
    for (const link of links) {
      const at = { position: link.position, source: link.source, eventId: link.eventId, requestId: link.requestId }
      if (link.position > 1 && !link.previous) {
        return { checked, last, found: broke('link_missing', { position: link.position - 1 }, `no link at position ${link.position - 1}, before request event ${link.eventId}`) }
      }
      if (chainLinkHash(link.previous?.chainHash ?? null, link) !== link.chainHash ||
        requestLinkHash(previousRequestHash, link.eventId, link.contentHash) !== link.requestHash) {
        return { checked, last, found: broke('link_changed', at, `the link of request event ${link.eventId} does not follow from the link before it (of the chain or of the request)`) }
      }
      const found = eventBreak(link)
      if (found) return { checked, last, found }
      previousRequestHash = link.requestHash
      last = link
      after = link.position
      checked += 1
    }
    if (links.length < BATCH) return { checked, last, found: null }
  }
}

/**
 * Verifies the whole chain: walks every link in position order, recomputing each chain hash from the
 * one before and checking its event is there and unchanged, then checks the signed heads against the
 * chain. Reports the first break.
 */
export async function verifyAuditChain (deps: VerifyDeps): Promise<AuditReport> {
  const audit = createAuditRepository(deps.dbh)
  const walked = await walkChain(audit)
  return report(audit, deps, null, walked)
}

/**
 * Verifies one request's part of the chain: its links in order, each one's request hash from the
 * request's link before it and its chain hash from the chain's link before it, and its events.
 * Request not found (404) only when it has neither a row nor a link: the
 * links of a deleted request are reported as missing events.
 */
export async function verifyRequestChain (deps: VerifyDeps, requestId: string): Promise<AuditReport> {
  const audit = createAuditRepository(deps.dbh)
  const walked = await walkRequest(audit, requestId)
  if (walked.checked === 0 && walked.found === null && !await audit.requestExists(requestId)) throw new Errors.RequestNotFound(requestId)
  return report(audit, deps, requestId, walked)
}
