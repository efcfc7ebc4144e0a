import type { FoundIdentity, SubjectIdentity } from '../../connectors/types.js'

/**
 * The wrong-person guard's reasoning, without I/O: which people the records found through a
 * request's identifiers belong to, whether they are more than one, what the request may add to its
 * identifiers (enrichment), and how a candidate is shown to a reviewer (masked).
 *
 * Records are told apart by e-mail address (lower-cased); where no record has one, by name. Two
 * records behind one phone number with different addresses are two people, whatever else they
 * share. The request's own e-mail address, when it has one, counts as a person too: a phone number
 * that leads only to someone else's address leads to the wrong person.
 */

/** A record found, with the system it is in. */
export interface FoundRecord extends FoundIdentity { connector: string }

/** One person the records lead to: their identifiers (all of them), the systems and the records. */
export interface Candidate {
  identifiers: SubjectIdentity
  names: string[]
  systems: string[]
  records: number
  /** The customer accounts the records belong to, where systems keep records per account: the systems and records of each. */
  accounts?: AccountRecords[]
}

/** A person's records in one customer account. */
export interface AccountRecords { account: string, systems: string[], records: number }

/** When the check runs: never, for requests that name no e-mail address (auto), or for every request. */
export const IDENTITY_CHECK_MODES = ['off', 'auto', 'always'] as const
export type IdentityCheckMode = typeof IDENTITY_CHECK_MODES[number]

/** Whether a request with this subject is checked before its tasks are planned. */
export function needsIdentityCheck (mode: IdentityCheckMode, subject: SubjectIdentity): boolean {
  if (mode === 'off') return false
  if (mode === 'always') return true
  return subject.email === undefined || subject.email === ''
}

const norm = (s: string) => s.trim().toLowerCase().replace(/\s+/g, ' ')

/** The people the records belong to, each with everything its records hold. */
export function candidatesOf (found: readonly FoundRecord[], subject: SubjectIdentity): Candidate[] {
  const byEmail = found.some((f) => f.identifiers.email) || Boolean(subject.email)
  const keyOf = (f: Pick<FoundRecord, 'identifiers' | 'name'>): string | null => {
    if (byEmail) return f.identifiers.email ? norm(f.identifiers.email) : null
    return f.name ? norm(f.name) : null
  }
  const people = new Map<string, { found: FoundRecord[] }>()
  if (subject.email) people.set(norm(subject.email), { found: [] })
  const unattributed: FoundRecord[] = []
  for (const f of found) {
    const key = keyOf(f)
    if (key === null) unattributed.push(f)
    else people.set(key, { found: [...(people.get(key)?.found ?? []), f] })
  }
  // Records that say nothing of whose they are belong to the one person, when there is one.
  if (people.size <= 1) {
    const [key] = people.keys()
    if (unattributed.length > 0) people.set(key ?? '', { found: [...(key !== undefined ? people.get(key)!.found : []), ...unattributed] })
  }
  return [...people.entries()].map(([key, { found: records }]) => {
    const identifiers = merge(byEmail && key ? { email: key } : {}, ...records.map((r) => r.identifiers))
    const accounts = accountRecords(records)
    return {
      identifiers,
      names: [...new Set(records.flatMap((r) => r.name ? [r.name] : []))],
      systems: [...new Set(records.map((r) => r.connector))].sort(),
      records: records.length,
      ...(accounts.length > 0 ? { accounts } : {})
    }
  })
}

/** Records per customer account (records of no account are left out), by account id. */
function accountRecords (records: readonly FoundRecord[]): AccountRecords[] {
  const by = new Map<string, FoundRecord[]>()
  for (const r of records) if (r.account !== undefined) by.set(r.account, [...(by.get(r.account) ?? []), r])
  return [...by.entries()].sort(([a], [b]) => a.localeCompare(b))
    .map(([account, rs]) => ({ account, systems: [...new Set(rs.map((r) => r.connector))].sort(), records: rs.length }))
}

/** Identifiers together: a kind already given keeps its first value; external ids are all kept, once. */
export function merge (...all: SubjectIdentity[]): SubjectIdentity {
  const out: SubjectIdentity = {}
  for (const s of all) {
    for (const kind of ['email', 'phone', 'customer_id', 'account_id', 'email_sha256', 'phone_sha256'] as const) {
      if (s[kind] && !out[kind]) out[kind] = s[kind]
    }
    for (const e of s.external_ids ?? []) {
      if (!(out.external_ids ?? []).some((x) => x.system === e.system && x.id === e.id)) (out.external_ids ??= []).push({ ...e })
    }
  }
  return out
}

/** Identifier values of a subject, as `kind:value` (for what was already asked with, and what two candidates share). */
export function identifierKeys (s: SubjectIdentity): Set<string> {
  const keys = new Set<string>()
  for (const kind of ['email', 'phone', 'customer_id', 'account_id', 'email_sha256', 'phone_sha256'] as const) {
    if (s[kind]) keys.add(`${kind}:${kind === 'email' ? norm(s[kind]) : s[kind]}`)
  }
  for (const e of s.external_ids ?? []) keys.add(`external:${e.system}:${e.id}`)
  return keys
}

/**
 * What the chosen candidate is searched and acted on by: their identifiers, less any that another
 * candidate shares (the phone number that led to both), so that no task reaches the other person.
 */
export function chosenSubject (candidates: readonly Candidate[], index: number): SubjectIdentity {
  const chosen = candidates[index]!
  const shared = new Set(candidates.filter((_, i) => i !== index).flatMap((c) => [...identifierKeys(c.identifiers)]))
  const id = chosen.identifiers
  const out: SubjectIdentity = {}
  for (const kind of ['email', 'phone', 'customer_id', 'account_id', 'email_sha256', 'phone_sha256'] as const) {
    const v = id[kind]
    if (v && !shared.has(`${kind}:${kind === 'email' ? norm(v) : v}`)) out[kind] = v
  }
  const external = (id.external_ids ?? []).filter((e) => !shared.has(`external:${e.system}:${e.id}`))
  if (external.length > 0) out.external_ids = external
  return out
}

/** An e-mail address masked for a reviewer: first letter of each part, the top-level domain (a***@e******.com). */
export function maskEmail (email: string): string {
  const [local = '', domain = ''] = email.split('@')
  const dot = domain.lastIndexOf('.')
  const host = dot > 0 ? domain.slice(0, dot) : domain
  const tld = dot > 0 ? domain.slice(dot) : ''
  const hide = (s: string) => s.length === 0 ? '' : `${s[0]}${'*'.repeat(Math.max(2, s.length - 1))}`
  return `${hide(local)}@${hide(host)}${tld}`
}

/** A phone number masked: its last two digits. */
export function maskPhone (phone: string): string {
  const digits = phone.replace(/\D/g, '')
  return `${'*'.repeat(Math.max(4, digits.length - 2))}${digits.slice(-2)}`
}

/** A name masked: initials. */
export function maskName (name: string): string {
  return name.trim().split(/\s+/).map((w) => `${w[0] ?? ''}.`).join(' ')
}
