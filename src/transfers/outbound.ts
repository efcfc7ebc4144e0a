import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { checkDestination, type AddressCheck, type HostResolver } from './addresses.js'
import { matchDestination, parseAllowList, type AllowList } from './allowlist.js'
import { deliver, type Delivery, type DeliveryResult } from './deliver.js'

/** Where a kind of outbound POST may go: its allow-list (named by `setting` in messages) and the DNS used to check it. */
export interface OutboundTarget { allowList: AllowList, setting: string, resolve: HostResolver }

/** What a guarded POST came to: refused before connecting (no DNS, not allowed, an address not permitted), or delivered's result. */
export type GuardedResult =
  | { kind: 'blocked', status: 'not_allowed' | Exclude<AddressCheck['status'], 'ok'>, message: string }
  | DeliveryResult

/** What is sent, once the destination passed: the body and its headers, without URL or address (the guard's). */
export type OutboundRequest = Omit<Delivery, 'url' | 'address'>

/**
 * The one way the service POSTs to a URL it was given or configured with: direct transfers,
 * status callbacks and the deadline webhook all go through here. The URL must fall under an entry
 * of the target's allow-list, its host must resolve to addresses that entry permits, the connection
 * goes to the address checked and no other (no second DNS answer, so no rebinding), and a redirect
 * is an answer, never followed. `prepare` runs only once the destination passed (a transfer opens
 * its archive then); it may give an early outcome of its own instead of a request.
 */
export async function postGuarded<Early> (
  target: OutboundTarget,
  url: URL,
  prepare: () => Promise<OutboundRequest | { early: Early }>
): Promise<GuardedResult | { kind: 'early', early: Early }> {
  const checked = await checkDestination(target.allowList, url, target.resolve, target.setting)
  if (checked.status !== 'ok') return { kind: 'blocked', status: checked.status, message: checked.message }
  const prepared = await prepare()
  if ('early' in prepared) return { kind: 'early', early: prepared.early }
  return deliver({ ...prepared, url, address: checked.address })
}

/** A JSON body as an OutboundRequest's body fields. */
export function jsonBody (text: string): Pick<OutboundRequest, 'body' | 'size' | 'sha256'> {
  const bytes = Buffer.from(text)
  return { body: Readable.from([bytes]), size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') }
}

/**
 * The target of a single configured URL (the deadline webhook): an allow-list of that URL's origin
 * alone, as if listed exactly in `setting`. Throws naming the setting, never its value (a webhook URL
 * may carry credentials), when the URL could not be guarded: not https (http only for loopback).
 */
export function singleUrlTarget (value: string, setting: string, resolve: HostResolver): OutboundTarget & { url: URL } {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new Error(`${setting}: not a valid URL`)
  }
  const allowList = parseAllowList(url.origin, setting)
  if (!matchDestination(allowList, url)) throw new Error(`${setting}: not a URL the service can send to`)
  return { allowList, setting, resolve, url }
}
