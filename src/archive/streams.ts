import { createHash, type Hash } from 'node:crypto'
import { Readable, Transform } from 'node:stream'
import type { ZipArchive, ZipEntryData } from 'archiver'

/** Running size and SHA-256 of bytes as they pass. */
export interface Measure { hash: Hash, bytes: number }
export const measure = (): Measure => ({ hash: createHash('sha256'), bytes: 0 })

export type Chunks = AsyncIterable<Buffer | string> | Iterable<Buffer | string>

/** A byte stream of `source`, measured into `m` on the way. */
export function hashed (source: Chunks, m: Measure): Readable {
  return Readable.from((async function * () {
    for await (const chunk of source) {
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
      m.hash.update(b)
      m.bytes += b.length
      yield b
    }
  })(), { objectMode: false })
}

/**
 * `source` in chunks of at least `size` bytes (the last may be smaller). Generated files come as
 * many small pieces (an HTML section, a manifest entry), and each piece written to a deflate
 * stream is a trip to the thread pool and back: gathered, a small file is deflated in one.
 */
export async function * gathered (source: Chunks, size = 65_536): AsyncGenerator<Buffer> {
  let parts: Buffer[] = []
  let bytes = 0
  for await (const chunk of source) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
    parts.push(b)
    bytes += b.length
    if (bytes >= size) {
      yield parts.length === 1 ? parts[0]! : Buffer.concat(parts, bytes)
      parts = []
      bytes = 0
    }
  }
  if (bytes > 0) yield parts.length === 1 ? parts[0]! : Buffer.concat(parts, bytes)
}

/**
 * A pass-through that hands on at least `size` bytes at a time (the last piece may be smaller):
 * a zip comes out of archiver in pieces of a few bytes each (headers, descriptors, small entries),
 * and every piece written on its own costs a file write.
 */
export function gatheredStream (size = 65_536): Transform {
  let parts: Buffer[] = []
  let bytes = 0
  const take = () => {
    const out = parts.length === 1 ? parts[0]! : Buffer.concat(parts, bytes)
    parts = []
    bytes = 0
    return out
  }
  return new Transform({
    transform (chunk: Buffer, _enc, cb) {
      parts.push(chunk)
      bytes += chunk.length
      if (bytes >= size) cb(null, take())
      else cb()
    },
    flush (cb) {
      if (bytes > 0) cb(null, take())
      else cb()
    }
  })
}

/** A pass-through that measures into `m`. */
export function tap (m: Measure): Transform {
  return new Transform({
    transform (chunk: Buffer, _enc, cb) {
      m.hash.update(chunk)
      m.bytes += chunk.length
      cb(null, chunk)
    }
  })
}

/** NDJSON lines of `records`, gathered into chunks of about 64 KiB; `each` sees every record on the way. */
export async function * ndjson (records: AsyncIterable<Record<string, unknown>>, each: (r: Record<string, unknown>) => void): AsyncGenerator<string> {
  let chunk = ''
  for await (const record of records) {
    each(record)
    chunk += `${JSON.stringify(record)}\n`
    if (chunk.length >= 65_536) {
      yield chunk
      chunk = ''
    }
  }
  if (chunk.length > 0) yield chunk
}

/**
 * Appends one entry and waits until archiver has written it (or its source failed). archiver
 * pipes every appended stream at once and does not pass a source's error on; waiting entry by
 * entry keeps one source open at a time and surfaces its failure.
 */
export function appendEntry (zip: ZipArchive, source: Readable | Buffer, data: ZipEntryData): Promise<void> {
  return new Promise((resolve, reject) => {
    const onEntry = (entry: { name: string }) => { if (entry.name === data.name) settle() }
    const onError = (err: Error) => settle(err)
    const settle = (err?: Error) => {
      zip.off('entry', onEntry)
      zip.off('error', onError)
      if (!Buffer.isBuffer(source)) source.off('error', onError)
      if (err) reject(err)
      else resolve()
    }
    zip.on('entry', onEntry)
    zip.once('error', onError)
    if (!Buffer.isBuffer(source)) {
      source.once('error', onError)
      source.on('error', () => {}) // reported above; later errors (after an abort) must not go unhandled
    }
    zip.append(source, data)
  })
}
