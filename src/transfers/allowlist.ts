import ipaddr from 'ipaddr.js'

/** One entry of an allow-list (TRANSFER_ALLOWLIST, CALLBACK_ALLOWLIST): a scheme, a host (exact, or every subdomain of it) and a port. */
export interface AllowRule {
  scheme: 'https:' | 'http:'
  /** Lower-case, as WHATWG URL normalises it (IPv6 in brackets); for a wildcard, the parent domain. */
  host: string
  wildcard: boolean
  port: number
}

export type AllowList = readonly AllowRule[]

/** How a destination matched: `exact` when its host is listed by name, not only through a wildcard. */
export interface AllowMatch { rule: AllowRule, exact: boolean }

const DEFAULT_PORT = { 'https:': 443, 'http:': 80 } as const

/**
 * Parses an allow-list (TRANSFER_ALLOWLIST, or `setting`): comma-separated origins (`https://partner.example:8443`) or host patterns
 * (`*.receiver.example`, `https://*.receiver.example`). Without a scheme an entry means https; without
 * a port, the scheme's default port. `http://` is accepted only for loopback receivers (local tests),
 * and a wildcard must name a parent domain of at least two labels. Throws naming the bad entry.
 */
export function parseAllowList (value: string | undefined, setting = 'TRANSFER_ALLOWLIST'): AllowList {
  if (!value) return []
  return value.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map((entry) => parseEntry(entry, setting))
}

function parseEntry (entry: string, setting: string): AllowRule {
  const bad = (why: string) => new Error(`${setting} entry "${entry}": ${why}`)
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(entry) ? entry : `https://${entry}`
  const match = /^([a-z]+:)\/\/(\*\.)?([^/?#]+?)\/?$/i.exec(withScheme)
  if (!match) throw bad('expected an origin such as https://partner.example:8443 or a pattern such as *.receiver.example')
  const scheme = match[1]!.toLowerCase()
  if (scheme !== 'https:' && scheme !== 'http:') throw bad('only https (and http for loopback test receivers) is supported')
  const wildcard = match[2] !== undefined
  let url: URL
  try {
    url = new URL(`${scheme}//${match[3]!}`)
  } catch {
    throw bad('not a valid host')
  }
  if (url.username || url.password || url.pathname !== '/' || url.search || url.hash) throw bad('only scheme, host and port are allowed')
  const rule: AllowRule = {
    scheme,
    host: url.hostname,
    wildcard,
    port: url.port ? Number(url.port) : DEFAULT_PORT[scheme]
  }
  const literal = ipLiteral(rule.host)
  if (wildcard && (literal || rule.host.split('.').filter(Boolean).length < 2)) {
    throw bad('a wildcard needs a parent domain of at least two labels, e.g. *.receiver.example')
  }
  if (scheme === 'http:' && !(rule.host === 'localhost' || literal?.range() === 'loopback')) {
    throw bad('http is allowed only for loopback receivers (tests); use https')
  }
  return rule
}

/** The allow-list entry a destination falls under, or null. Scheme, host and port must all match. */
export function matchDestination (list: AllowList, url: URL): AllowMatch | null {
  const scheme = url.protocol
  if (scheme !== 'https:' && scheme !== 'http:') return null
  const port = url.port ? Number(url.port) : DEFAULT_PORT[scheme]
  const host = url.hostname.replace(/\.$/, '')
  let viaWildcard: AllowMatch | null = null
  for (const rule of list) {
    if (rule.scheme !== scheme || rule.port !== port) continue
    if (!rule.wildcard && rule.host === host) return { rule, exact: true }
    if (rule.wildcard && host.endsWith(`.${rule.host}`) && !ipLiteral(host)) viaWildcard ??= { rule, exact: false }
  }
  return viaWildcard
}

/** The address a URL hostname spells (`127.0.0.1`, `[::1]`), or null for a name. */
export function ipLiteral (hostname: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname
  if (!ipaddr.IPv6.isValid(bare) && !ipaddr.IPv4.isValidFourPartDecimal(bare)) return null
  return ipaddr.process(bare)
}
