import { createHash } from 'node:crypto'
import { REQUEST_TYPES, type RequestType } from './requests.js'
import type { SubjectIdentity } from '../../connectors/types.js'

/**
 * A second open request for the same person and type: what happens to it (DUPLICATE_POLICY).
 * - `link`: it is accepted as a request of its own, linked to the open one (`duplicate_of`).
 * - `merge`: it is answered with the open one, and only recorded on it (an audit event), when it
 *   asks nothing the open one does not (no other changes, no other callback); otherwise linked.
 * - `refuse`: 409 DSR_DUPLICATE_REQUEST, naming the open request.
 */
export const DUPLICATE_POLICIES = ['link', 'merge', 'refuse'] as const
export type DuplicatePolicyName = typeof DUPLICATE_POLICIES[number]

export interface DuplicatePolicy {
  for (type: RequestType): DuplicatePolicyName
}

/**
 * Reads DUPLICATE_POLICY: a policy for every type (`merge`), and `type:policy` entries for some
 * (`link,erasure:refuse`), comma-separated; `link` where nothing is said. The problems, each naming
 * the entry, when it does not read.
 */
export function parseDuplicatePolicy (value: string | undefined): { policy: DuplicatePolicy, problems: string[] } {
  let fallback: DuplicatePolicyName = 'link'
  const byType = new Map<RequestType, DuplicatePolicyName>()
  const problems: string[] = []
  for (const entry of (value ?? '').split(',').map((e) => e.trim()).filter((e) => e !== '')) {
    const parts = entry.split(':')
    const name = parts[parts.length - 1] as DuplicatePolicyName
    const type = parts.length === 2 ? parts[0] as RequestType : null
    if (parts.length > 2 || !DUPLICATE_POLICIES.includes(name)) {
      problems.push(`"${entry}" is not a policy or type:policy (policies: ${DUPLICATE_POLICIES.join(', ')})`)
    } else if (type !== null && !REQUEST_TYPES.includes(type)) {
      problems.push(`"${entry}": unknown request type "${type}" (types: ${REQUEST_TYPES.join(', ')})`)
    } else if (type === null) {
      fallback = name
    } else {
      byType.set(type, name)
    }
  }
  return { policy: { for: (type) => byType.get(type) ?? fallback }, problems }
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')

/**
 * The keys a request's subject is matched by when looking for an open request for the same person:
 * one per identifier, each a SHA-256, so that the match index holds no identifier in clear. An
 * e-mail and the SHA-256 of the same e-mail give the same key (and the same for phone numbers).
 * `subject` is as stored: e-mail trimmed and lower-cased, phone in E.164.
 */
export function subjectKeys (subject: SubjectIdentity): string[] {
  const keys = new Set<string>()
  const emailHash = subject.email !== undefined ? sha256(subject.email) : subject.email_sha256
  const phoneHash = subject.phone !== undefined ? sha256(subject.phone) : subject.phone_sha256
  if (emailHash !== undefined) keys.add(`email:${emailHash}`)
  if (phoneHash !== undefined) keys.add(`phone:${phoneHash}`)
  if (subject.customer_id !== undefined) keys.add(`customer_id:${sha256(subject.customer_id)}`)
  if (subject.account_id !== undefined) keys.add(`account_id:${sha256(subject.account_id)}`)
  for (const x of subject.external_ids ?? []) keys.add(`external:${sha256(`${x.system}\u0000${x.id}`)}`)
  return [...keys].sort()
}
