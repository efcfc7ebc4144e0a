import { lookup } from 'node:dns/promises'
import type { LookupFunction } from 'node:net'
import ipaddr from 'ipaddr.js'
import { ipLiteral, matchDestination, type AllowList, type AllowMatch } from './allowlist.js'

export interface ResolvedAddress { address: string, family: 4 | 6 }

/** Resolves a host name to every address it has. Injected so tests can play DNS. */
export type HostResolver = (hostname: string) => Promise<ResolvedAddress[]>

export const systemResolver: HostResolver = async (hostname) => {
  const found = await lookup(hostname, { all: true, verbatim: true })
  return found.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }))
}

const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR('2000::/3')

/**
 * The special-purpose range an address is in (loopback, private, linkLocal, uniqueLocal,
 * carrierGradeNat, multicast, reserved, NAT64 and 6to4 forms …), or null for a public unicast
 * address. IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
 */
export function specialRange (address: string): string | null {
  const ip = ipaddr.process(address)
  const range = ip.range()
  if (range !== 'unicast') return range
  if (ip.kind() === 'ipv6' && !ip.match(GLOBAL_UNICAST_V6)) return 'reserved'
  return null
}

export type AddressCheck =
  | { status: 'ok', address: ResolvedAddress }
  /** The name does not exist (NXDOMAIN, no records). */
  | { status: 'unresolvable', message: string }
  /** It resolves, but to an address we will not connect to. */
  | { status: 'refused', message: string }
  /** DNS itself failed (timeout, SERVFAIL): worth trying again later. */
  | { status: 'dns_error', message: string }

/**
 * Resolves the destination's host and checks every address it has: a host allowed only through a
 * wildcard must resolve to public unicast addresses alone; a host listed exactly may be anywhere
 * (the operator named it); an http destination must be loopback. The caller connects to the
 * returned address and no other (see pinnedLookup), so a second, different DNS answer (rebinding)
 * is never used.
 */
export async function checkAddresses (url: URL, match: AllowMatch, resolve: HostResolver, setting = 'TRANSFER_ALLOWLIST'): Promise<AddressCheck> {
  const host = url.hostname
  let addresses: ResolvedAddress[]
  const literal = ipLiteral(host)
  if (literal) {
    addresses = [{ address: literal.toString(), family: literal.kind() === 'ipv6' ? 6 : 4 }]
  } else {
    try {
      addresses = await resolve(host.replace(/\.$/, ''))
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOTFOUND' || code === 'ENODATA') return { status: 'unresolvable', message: `${host} does not resolve` }
      return { status: 'dns_error', message: `resolving ${host} failed (${code ?? 'error'})` }
    }
  }
  if (addresses.length === 0) return { status: 'unresolvable', message: `${host} does not resolve` }
  for (const { address } of addresses) {
    if (!ipaddr.isValid(address)) return { status: 'refused', message: `${host} resolves to something that is not an IP address` }
    const range = specialRange(address)
    if (url.protocol === 'http:' && range !== 'loopback') {
      return { status: 'refused', message: `${host}: http is allowed only to loopback receivers` }
    }
    if (range && !match.exact) {
      return {
        status: 'refused',
        message: `${host} resolves to a ${range} address; only a host listed exactly in ${setting} may resolve to a non-public address`
      }
    }
  }
  return { status: 'ok', address: addresses[0]! }
}

/** What the destination guard found: an AddressCheck, or a destination outside the allow-list. */
export type DestinationCheck = AddressCheck | { status: 'not_allowed', message: string }

/**
 * The destination guard of everything the service POSTs to a configured receiver (direct transfers,
 * status callbacks): the URL must fall under an entry of `allowList` (the setting named `setting`),
 * and its host must resolve to addresses that entry permits (checkAddresses). Connect to the
 * returned address only (pinnedLookup).
 */
export async function checkDestination (allowList: AllowList, url: URL, resolve: HostResolver, setting: string): Promise<DestinationCheck> {
  const match = matchDestination(allowList, url)
  if (!match) return { status: 'not_allowed', message: `${url.origin} is not in ${setting}` }
  return checkAddresses(url, match, resolve, setting)
}

/**
 * A `lookup` for net/tls/http that answers with the one address already checked, whatever name it
 * is asked for: the connection goes where the check said, while TLS still verifies the certificate
 * against the URL's host name (SNI and the Host header come from the URL, not from the lookup).
 */
export function pinnedLookup (pinned: ResolvedAddress): LookupFunction {
  return ((_hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, [{ address: pinned.address, family: pinned.family }])
    else callback(null, pinned.address, pinned.family)
  }) as unknown as LookupFunction
}
