import { createHash } from 'node:crypto'

/**
 * The audit chain's link hashes. An event's content hash is computed by Postgres when the event is
 * stored (triggers of migration 0013: a SHA-256 over a canonical jsonb text of every column, the
 * free text that redaction may replace hashed on its own); the seal step then appends each event to
 * the chain, in the order it takes them, with two hashes over plain strings:
 *
 *   request_hash = SHA-256( previous request_hash of the same request (or "") ‖ source:event_id ‖ content_hash )
 *   chain_hash   = SHA-256( previous chain_hash (or "") ‖ position ‖ source:event_id ‖ request_id ‖ content_hash ‖ request_hash )
 *
 * (‖ is a newline.) A change to an event shows as a content hash that no longer matches; a deleted
 * event as a link whose event is gone; a deleted or rewritten link as a chain hash that no longer
 * follows from its predecessor; a chain rewritten from some point on as a chain hash that differs
 * from the one the last signed head carries.
 */

export type AuditSource = 'request' | 'system'

export interface ChainLink {
  position: number
  source: AuditSource
  eventId: number
  requestId: string | null
  contentHash: string
  requestHash: string | null
  chainHash: string
}

const sha256Hex = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex')

/** The hash linking a request event to the previous link of its request (null for its first). */
export function requestLinkHash (previous: string | null, eventId: number, contentHash: string): string {
  return sha256Hex(`${previous ?? ''}\nrequest:${eventId}\n${contentHash}`)
}

/** The hash linking a link to the previous link of the whole service (null for position 1). */
export function chainLinkHash (previous: string | null, link: Omit<ChainLink, 'chainHash'>): string {
  return sha256Hex(`${previous ?? ''}\n${link.position}\n${link.source}:${link.eventId}\n${link.requestId ?? ''}\n${link.contentHash}\n${link.requestHash ?? ''}`)
}

/** What a verification found broken first. */
export const BREAK_KINDS = ['content_changed', 'event_missing', 'link_missing', 'link_changed', 'head_mismatch', 'signature_invalid'] as const
export type BreakKind = typeof BREAK_KINDS[number]
