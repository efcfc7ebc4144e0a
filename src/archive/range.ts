/**
 * HTTP byte ranges (RFC 9110 §14) for archive downloads: one range per request. Several ranges,
 * or a header that does not parse, are ignored and the whole file is sent, as the RFC allows.
 */

export type RangeResult =
  | { kind: 'whole' }
  | { kind: 'partial', start: number, end: number }
  | { kind: 'unsatisfiable' }

export function parseRange (header: string | undefined, size: number): RangeResult {
  if (!header) return { kind: 'whole' }
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (!m || (m[1] === '' && m[2] === '')) return { kind: 'whole' }
  if (m[1] === '') {
    // A suffix: the last N bytes.
    const n = Number(m[2])
    if (n === 0 || size === 0) return { kind: 'unsatisfiable' }
    return { kind: 'partial', start: Math.max(0, size - n), end: size - 1 }
  }
  const start = Number(m[1])
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1)
  if (m[2] !== '' && Number(m[2]) < start) return { kind: 'whole' } // invalid: ignored
  if (start >= size) return { kind: 'unsatisfiable' }
  return { kind: 'partial', start, end }
}

/**
 * If-Range: the range applies only while the file is the one the client has. Only our strong
 * ETag matches; a date or any other tag means "send it all".
 */
export function rangeApplies (ifRange: string | undefined, etag: string): boolean {
  return ifRange === undefined || ifRange.trim() === etag
}
