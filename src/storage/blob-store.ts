import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, rename, rm, stat } from 'node:fs/promises'
import { dirname, join, resolve, sep } from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { Transform } from 'node:stream'

/** Where collected files and archives are kept. Local directory first; other backends implement the same. */
export interface BlobStore {
  /** Streams `body` to `key`, never holding it whole; returns its size and SHA-256. */
  put (key: string, body: Readable): Promise<{ size: number, sha256: string }>
  get (key: string, range?: { start: number, end: number }): Promise<Readable>
  size (key: string): Promise<number | null>
  /** Deletes a key or every key under a `prefix/`. */
  delete (keyOrPrefix: string): Promise<void>
}

export function createLocalBlobStore (root: string): BlobStore {
  const base = resolve(root)
  const pathOf = (key: string) => {
    if (!/^[A-Za-z0-9._/-]+$/.test(key) || key.split('/').some((p) => p === '..' || p === '')) {
      throw new Error('invalid storage key')
    }
    const p = resolve(base, key)
    if (!p.startsWith(base + sep)) throw new Error('invalid storage key')
    return p
  }
  return {
    async put (key, body) {
      const target = pathOf(key)
      await mkdir(dirname(target), { recursive: true })
      const partial = `${target}.partial`
      const hash = createHash('sha256')
      let size = 0
      const measure = new Transform({
        transform (chunk: Buffer, _enc, cb) {
          hash.update(chunk)
          size += chunk.length
          cb(null, chunk)
        }
      })
      await pipeline(body, measure, createWriteStream(partial, { mode: 0o600 }))
      await rename(partial, target) // readers never see a half-written file
      return { size, sha256: hash.digest('hex') }
    },
    async get (key, range) {
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
