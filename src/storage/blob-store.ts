import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, rename, rm, stat } from 'node:fs/promises'
import { dirname, join, resolve, sep } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Readable, Transform } from 'node:stream'

/**
 * Where collected files and archives are kept: a local directory (createLocalBlobStore, the default)
 * or an S3-compatible object store (createS3BlobStore, STORAGE_URL). test/storage/blob-store.test.ts
 * holds both to this contract.
 */
export interface BlobStore {
  /**
   * Streams `body` to `key`, never holding it whole; returns its size and SHA-256, computed while
   * streaming. Readers never see a half-written blob: they see the old one, or none, until it is done.
   */
  put (key: string, body: Readable): Promise<{ size: number, sha256: string }>
  /** The blob's bytes, or those of [start, end] (inclusive; end < start gives none). A missing key fails. */
  get (key: string, range?: { start: number, end: number }): Promise<Readable>
  /** Its size in bytes; null when there is no such blob. */
  size (key: string): Promise<number | null>
  /** Deletes a key and every key under `key/` (a trailing slash is the same); nothing there is no error. */
  delete (keyOrPrefix: string): Promise<void>
  /** Frees what the store holds open (connections); the app calls it on close. */
  close? (): Promise<void>
}

/** A storage key as every backend accepts it: segments of [A-Za-z0-9._-], no empty, `.` or `..` one. Throws otherwise. */
export function checkedKey (key: string): string {
  if (!/^[A-Za-z0-9._/-]+$/.test(key) || key.split('/').some((p) => p === '..' || p === '.' || p === '')) {
    throw new Error('invalid storage key')
  }
  return key
}

/** A pass-through that measures what a store writes as it streams: its size and SHA-256, once it has ended. */
export function measuring (): Transform & { measured (): { size: number, sha256: string } } {
  const hash = createHash('sha256')
  let size = 0
  const measure = new Transform({
    transform (chunk: Buffer, _enc, cb) {
      hash.update(chunk)
      size += chunk.length
      cb(null, chunk)
    }
  })
  return Object.assign(measure, { measured: () => ({ size, sha256: hash.digest('hex') }) })
}

export function createLocalBlobStore (root: string): BlobStore {
  const base = resolve(root)
  const pathOf = (key: string) => {
    const p = resolve(base, checkedKey(key))
    if (!p.startsWith(base + sep)) throw new Error('invalid storage key')
    return p
  }
  return {
    async put (key, body) {
      const target = pathOf(key)
      await mkdir(dirname(target), { recursive: true })
      const partial = `${target}.partial`
      const measure = measuring()
      await pipeline(body, measure, createWriteStream(partial, { mode: 0o600 }))
      await rename(partial, target) // readers never see a half-written file
      return measure.measured()
    },
    async get (key, range) {
      if (range && range.end < range.start) {
        await stat(pathOf(key)) // a missing key fails all the same
        return Readable.from([])
      }
      return createReadStream(pathOf(key), range ? { start: range.start, end: range.end } : {})
    },
    async size (key) {
      try {
        return (await stat(pathOf(key))).size
      } catch {
        return null
      }
    },
    async delete (keyOrPrefix) {
      await rm(pathOf(keyOrPrefix.replace(/\/$/, '')), { recursive: true, force: true })
    }
  }
}

export function storageRoot (config: { STORAGE_DIR?: string | undefined, DATA_DIR: string }): string {
  return config.STORAGE_DIR ?? join(config.DATA_DIR, 'storage')
}
