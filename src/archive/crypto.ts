import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'
import type { Readable } from 'node:stream'
import { Transform } from 'node:stream'

/**
 * Encryption at rest for archives: AES-256-GCM in fixed-size segments, after the STREAM
 * construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015; as in Tink's streaming AEAD). Each
 * SEGMENT_SIZE bytes of plaintext are sealed on their own, with a 12-byte nonce made of a random
 * 7-byte prefix chosen per file, the segment's 32-bit counter and a last-segment flag, and its own
 * 16-byte tag; the archive id is the associated data. So a download, or any byte range of it, is
 * decrypted segment by segment without reading the rest; reordered, dropped, truncated, appended or
 * altered segments fail authentication, and no byte is released before its segment is verified.
 *
 * Stored layout: segments back to back, each `ciphertext (SEGMENT_SIZE, the last 0..SEGMENT_SIZE) || tag`.
 */

export const SEGMENT_SIZE = 64 * 1024
const TAG = 16
const PREFIX = 7

/** What `archives.encryption` records, enough to find and open any segment. */
export interface EncryptionLayout {
  algorithm: 'aes-256-gcm'
  scheme: 'stream-segments-v1'
  keyId: string
  segmentSize: number
  tagLength: number
  noncePrefix: string
  plaintextSize: number
  [k: string]: unknown
}

/** A short fingerprint of the key, so an archive sealed under another key is named as such. */
export function keyId (key: Buffer): string {
  return createHash('sha256').update('dsar-archive-key-id:').update(key).digest('hex').slice(0, 16)
}

function nonce (prefix: Buffer, index: number, last: boolean): Buffer {
  const n = Buffer.alloc(12)
  prefix.copy(n, 0)
  n.writeUInt32BE(index, PREFIX)
  n[11] = last ? 1 : 0
  return n
}

function aad (archiveId: string): Buffer {
  return Buffer.from(`dsar-archive:${archiveId}`)
}

/**
 * A transform that seals what passes through it. `layout()` gives the parameters to record once
 * the stream has ended.
 */
export function createSealer (key: Buffer, archiveId: string) {
  const prefix = randomBytes(PREFIX)
  const pending = Buffer.alloc(SEGMENT_SIZE)
  let filled = 0
  let index = 0
  let plaintextSize = 0
  const seal = (plain: Buffer, last: boolean): Buffer => {
    if (index > 0xffffffff) throw new Error('archive too large to seal')
    const cipher = createCipheriv('aes-256-gcm', key, nonce(prefix, index++, last), { authTagLength: TAG })
    cipher.setAAD(aad(archiveId))
    return Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()])
  }
  const transform = new Transform({
    transform (chunk: Buffer, _enc, cb) {
      try {
        plaintextSize += chunk.length
        let offset = 0
        while (offset < chunk.length) {
          // A full segment is sealed only once more data arrives: the last one must carry the flag.
          if (filled === SEGMENT_SIZE) {
            this.push(seal(pending, false))
            filled = 0
          }
          const n = chunk.copy(pending, filled, offset, Math.min(chunk.length, offset + SEGMENT_SIZE - filled))
          filled += n
          offset += n
        }
        cb()
      } catch (err) {
        cb(err as Error)
      }
    },
    flush (cb) {
      try {
        this.push(seal(pending.subarray(0, filled), true))
        cb()
      } catch (err) {
        cb(err as Error)
      }
    }
  })
  const layout = (): EncryptionLayout => ({
    algorithm: 'aes-256-gcm',
    scheme: 'stream-segments-v1',
    keyId: keyId(key),
    segmentSize: SEGMENT_SIZE,
    tagLength: TAG,
    noncePrefix: prefix.toString('base64'),
    plaintextSize
  })
  return { transform, layout }
}

/** Segments of the plaintext range [start, end] (inclusive), and where their ciphertext sits. */
export function segmentSpan (layout: EncryptionLayout, start: number, end: number) {
  const size = layout.segmentSize + layout.tagLength
  const count = Math.max(1, Math.ceil(layout.plaintextSize / layout.segmentSize))
  const first = Math.floor(start / layout.segmentSize)
  const last = Math.min(count - 1, Math.floor(end / layout.segmentSize))
  const cipherEnd = Math.min(storedSize(layout), (last + 1) * size) - 1
  return { first, last, count, cipherStart: first * size, cipherEnd }
}

/** Size of the stored (sealed) file. */
export function storedSize (layout: EncryptionLayout): number {
  const count = Math.max(1, Math.ceil(layout.plaintextSize / layout.segmentSize))
  return layout.plaintextSize + count * layout.tagLength
}

/**
 * Opens the plaintext bytes [start, end] from `ciphertext`, which must hold exactly the stored
 * bytes [cipherStart, cipherEnd] of `segmentSpan(layout, start, end)`. Each segment is verified
 * before any of its bytes is yielded; a bad tag throws.
 */
export async function * openRange (key: Buffer, archiveId: string, layout: EncryptionLayout, ciphertext: Readable, start: number, end: number): AsyncGenerator<Buffer> {
  if (keyId(key) !== layout.keyId) throw new Error('the archive was sealed with another key')
  const span = segmentSpan(layout, start, end)
  const prefix = Buffer.from(layout.noncePrefix, 'base64')
  const size = layout.segmentSize + layout.tagLength
  let index = span.first
  let buffered: Buffer[] = []
  let length = 0
  const lengthOf = (i: number) => (i === span.count - 1 ? layout.plaintextSize - i * layout.segmentSize + layout.tagLength : size)
  const open = (sealed: Buffer, i: number): Buffer => {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce(prefix, i, i === span.count - 1), { authTagLength: layout.tagLength })
    decipher.setAAD(aad(archiveId))
    decipher.setAuthTag(sealed.subarray(sealed.length - layout.tagLength))
    const plain = Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - layout.tagLength)), decipher.final()])
    const from = i === span.first ? start - i * layout.segmentSize : 0
    const to = i === span.last ? end - i * layout.segmentSize + 1 : plain.length
    return plain.subarray(from, to)
  }
  for await (const chunk of ciphertext as AsyncIterable<Buffer>) {
    buffered.push(chunk)
    length += chunk.length
    while (index <= span.last && length >= lengthOf(index)) {
      const all = Buffer.concat(buffered)
      const need = lengthOf(index)
      yield open(all.subarray(0, need), index)
      buffered = [all.subarray(need)]
      length -= need
      index++
    }
  }
  if (index <= span.last) throw new Error('the stored archive is shorter than its layout says')
}
