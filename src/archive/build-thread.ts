import type { FastifyBaseLogger } from 'fastify'
import type { Readable } from 'node:stream'
import type { StreamProcessing } from '../connectors/processing.js'
import type { ConnectorRegistry } from '../connectors/registry.js'
import type { CollectedItemRow, ItemsRepository } from '../db/repositories/items-repository.js'
import type { BlobStore } from '../storage/blob-store.js'
import { buildArchive, type BuildInput, type BuiltArchive } from './builder.js'

/** What a system contributes to its section of the archive: its name and what its streams hold. */
export interface SystemInfo {
  id: string
  displayName: string
  streams: Array<{ name: string, description: string, categories: string[], processing: StreamProcessing }>
}

/** A small request's archive to build: its items already read (records only), and its systems. */
export interface ThreadTask {
  input: Omit<BuildInput, 'firstItems'>
  items: CollectedItemRow[]
  systems: SystemInfo[]
  encryptionKey: Uint8Array | null
}

export interface ThreadResult {
  built: BuiltArchive
  /** The zip as it is to be stored (sealed when a key was given). */
  bytes: Uint8Array
  /** archiver's warnings, for the caller to log. */
  warnings: string[]
}

/**
 * The CPU part of an archive build, on a thread of its own (a piscina worker, src/archive/job.ts):
 * records become NDJSON, CSV and JSON Schemas, the pages and the manifest, zipped, hashed and
 * sealed, while the service's main thread goes on with requests and tasks. The zip is held in
 * memory (a small request's archive is tens of kilobytes) and handed back to be stored.
 */
export default async function buildOnThread (task: ThreadTask): Promise<ThreadResult> {
  const chunks: Buffer[] = []
  const warnings: string[] = []
  const inMemory: BlobStore = {
    async put (_key: string, body: Readable) {
      let size = 0
      for await (const chunk of body) {
        chunks.push(chunk as Buffer)
        size += (chunk as Buffer).length
      }
      return { size, sha256: '' }
    },
    async get () { throw new Error('attachments are built on the main thread') },
    async size () { return null },
    async delete () {}
  }
  // Every item is given (task.items), so the builder never reads the database.
  const noDatabase = new Proxy({}, { get () { throw new Error('no database on an archive thread') } }) as ItemsRepository
  const log = { warn: (_obj: unknown, msg?: string) => { warnings.push(msg ?? 'warning') } } as unknown as FastifyBaseLogger
  const built = await buildArchive({
    items: noDatabase,
    storage: inMemory,
    registry: new Map(task.systems.map((s) => [s.id, s])) as unknown as ConnectorRegistry,
    encryptionKey: task.encryptionKey ? Buffer.from(task.encryptionKey) : null,
    log
  }, { ...task.input, firstItems: task.items })
  return { built, bytes: Buffer.concat(chunks), warnings }
}
