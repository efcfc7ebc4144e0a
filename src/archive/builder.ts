import { PassThrough } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { ZipArchive } from 'archiver'
import type { FastifyBaseLogger } from 'fastify'
import type { ConnectorRegistry } from '../connectors/registry.js'
import type { CollectedItemRow, ItemsRepository, StreamTotals } from '../db/repositories/items-repository.js'
import type { BlobStore } from '../storage/blob-store.js'
import { createSealer, type EncryptionLayout } from './crypto.js'
import { CsvColumns, csvStream } from './csv.js'
import { missingSystems } from './completeness.js'
import type { ControllerInfo } from './controller.js'
import { overviewHtml, type AttachmentLink, type SystemOverview } from './html.js'
import { humanize } from './labels.js'
import { SchemaInferrer } from './json-schema.js'
import { isCompressed, MEDIA_TYPES, PATHS } from './layout.js'
import { manifestHeader, manifestInformation, manifestJson, type ManifestFile, type ManifestSummary, type ManifestSystem } from './manifest.js'
import { readmeText } from './readme.js'
import { appendEntry, gathered, gatheredStream, hashed, measure, ndjson, tap, type Chunks } from './streams.js'
import { JobErrors } from '../errors.js'
import { inLanguage } from '../connectors/texts.js'

export interface BuildInput {
  archiveId: string
  storageKey: string
  request: { id: string, type: string, regime: string }
  /**
   * Every system the request was to search, with its outcome. Each collected one gets a section,
   * even if it found nothing; the others get none (what a failed or skipped collection may have
   * stored is left out) and are named at the top of index.html and README.txt instead.
   */
  systems: readonly ManifestSystem[]
  generatedAt: Date
  /** The company-wide information the person is given with their data (CONTROLLER_FILE). */
  controller: ControllerInfo
  /** The request's first READ_AT_ONCE + 1 items, when the caller read them already (items.page). */
  firstItems?: CollectedItemRow[]
}

export interface BuildDeps {
  items: ItemsRepository
  storage: BlobStore
  registry: ConnectorRegistry
  /** AES-256 key for encryption at rest; null stores the zip as it is. */
  encryptionKey: Buffer | null
  log: FastifyBaseLogger
}

export interface BuiltArchive { size: number, sha256: string, encryption: EncryptionLayout | null, manifest: ManifestSummary }

/** A stored file whose content no longer matches what was recorded when it was collected. */
export const ArchiveItemCorrupt = JobErrors.ArchiveItemCorrupt

/**
 * Builds one request's archive as a zip streamed into the BlobStore: per stream an NDJSON file, a
 * CSV file and a JSON Schema; the collected files; index.html, README.txt and manifest.json.
 * Items are read page by page and entries are appended one at a time, each waiting for the one
 * before, so memory stays bounded whatever the size. Returns the plaintext zip's size and SHA-256.
 */
export async function buildArchive (deps: BuildDeps, input: BuildInput): Promise<BuiltArchive> {
  const { items, storage } = deps
  const requestId = input.request.id
  const collected = new Set(input.systems.filter((s) => s.status === 'collected').map((s) => s.connector))
  const reader = await readItems(items, requestId, input.firstItems)
  const systems = overview(deps, collected, reader.totals.filter((t) => collected.has(t.connectorId)))
  const missing = missingSystems(input.systems, (id) => deps.registry.get(id)?.displayName ?? id)

  const zip = new ZipArchive({ zlib: { level: 6 } })
  zip.on('warning', (err) => deps.log.warn({ err }, 'archive warning'))
  const whole = measure()
  const sealer = deps.encryptionKey ? createSealer(deps.encryptionKey, input.archiveId) : null
  const body = new PassThrough()
  const piping = pipeline(zip, tap(whole), gatheredStream(), sealer ? sealer.transform : new PassThrough(), body)
  const putting = storage.put(input.storageKey, body)
  piping.catch(() => {})
  // A store that fails before it has read everything (a full disk, an object store going away)
  // stops reading: the zip would wait on it for good. Its failure ends the zip, so the build fails.
  let storeFailed: { err: unknown } | null = null
  putting.catch((err: unknown) => { storeFailed ??= { err }; zip.abort(); body.destroy(err as Error); zip.destroy(err as Error) })

  const entries: ManifestFile[] = []
  const attachments = { count: 0, bytes: 0 }
  /** Adds a generated file, or an attachment (`store` says whether its type is already compressed). */
  const add = async (file: Omit<ManifestFile, 'bytes' | 'sha256' | 'compression'>, source: Chunks, attachmentStored?: boolean) => {
    const store = attachmentStored ?? false
    const m = measure()
    // Generated files (records, schemas, tables, documents) that turn out small are stored whole:
    // deflating a file this small saves a few hundred bytes at most, and costs a compression stream
    // of its own (set up, run on the thread pool, torn down). Attachments keep the per-type rule.
    const { small, rest } = attachmentStored !== undefined ? { rest: source } : await smallContent(source)
    if (small) {
      m.hash.update(small)
      m.bytes = small.length
      await appendEntry(zip, small, { name: file.path, date: input.generatedAt, store: true })
      return { ...file, bytes: m.bytes, sha256: m.hash.digest('hex'), compression: 'stored' } satisfies ManifestFile
    }
    await appendEntry(zip, hashed(attachmentStored === undefined ? gathered(rest) : rest, m), { name: file.path, date: input.generatedAt, store })
    const done: ManifestFile = { ...file, bytes: m.bytes, sha256: m.hash.digest('hex'), compression: store ? 'stored' : 'deflated' }
    return done
  }
  const attachmentsOf = (connector: string, stream: string) => attachmentLinks(reader.each(connector, stream, 'file'), connector, stream)
  /** Each stream's fields in column order, for its table in index.html (bounded like the CSV's header). */
  const fields = new Map<string, readonly string[]>()

  try {
    for (const system of systems) {
      for (const s of system.streams) {
        const base = { connector: system.id, stream: s.name, categories: s.categories, collected_at: s.collectedAt?.toISOString() ?? null }
        if (s.records > 0) {
          const columns = new CsvColumns()
          const schema = new SchemaInferrer()
          const records = () => recordsOf(reader.each(system.id, s.name, 'record'))
          entries.push(await add({ ...base, path: PATHS.records(system.id, s.name), kind: 'records', media_type: MEDIA_TYPES.records, records: s.records },
            ndjson(records(), (r) => { columns.add(r); schema.add(r) })))
          if (schema.records !== s.records) throw new Error('collected items changed while the archive was built')
          fields.set(`${system.id}\u0000${s.name}`, columns.keys)
          const schemaText = JSON.stringify(schema.schema({
            id: PATHS.schema(system.id, s.name), title: `${system.displayName}: ${s.name}`, description: s.description
          }), null, 2)
          entries.push(await add({ ...base, path: PATHS.schema(system.id, s.name), kind: 'schema', media_type: MEDIA_TYPES.schema, records: s.records }, [`${schemaText}\n`]))
          entries.push(await add({ ...base, path: PATHS.table(system.id, s.name), kind: 'table', media_type: MEDIA_TYPES.table, records: s.records },
            csvStream(columns, records())))
        }
        for await (const { link, item } of attachmentsOf(system.id, s.name)) {
          const file = item.file!
          const added = await add({ ...base, path: link.path, kind: 'attachment', media_type: file.contentType, records: null, collected_at: item.collectedAt.toISOString() },
            await storage.get(file.storageKey), isCompressed(file.contentType, file.name))
          if (added.sha256 !== file.sha256 || added.bytes !== file.size) throw new ArchiveItemCorrupt(`stored file of item ${item.id} does not match its recorded hash`)
          attachments.count++
          attachments.bytes += added.bytes
        }
      }
    }
    const meta = { requestId, requestType: input.request.type, regime: input.request.regime, generatedAt: input.generatedAt }
    const docs = [
      await add({ path: PATHS.index, kind: 'overview', media_type: MEDIA_TYPES.index, connector: null, stream: null, categories: [], records: null, collected_at: null },
        overviewHtml({
          ...meta,
          systems,
          missing,
          controller: input.controller,
          attachments: async function * (c, s) { for await (const a of attachmentsOf(c, s)) yield a.link },
          records: (c, s) => recordsOf(reader.each(c, s, 'record')),
          columns: (c, s) => fields.get(`${c}\u0000${s}`) ?? []
        })),
      await add({ path: PATHS.readme, kind: 'readme', media_type: MEDIA_TYPES.readme, connector: null, stream: null, categories: [], records: null, collected_at: null },
        [readmeText({ ...meta, systems: input.systems.length, missing, controller: input.controller, sections: systems })])
    ]
    const header = manifestHeader(input.request, input.generatedAt, input.systems)
    await appendEntry(zip, hashed(gathered(manifestJson(header, [entries, attachmentEntries(systems, attachmentsOf), docs], manifestInformation(input.controller, systems))), measure()),
      { name: PATHS.manifest, date: input.generatedAt })
    await zip.finalize()
    await piping
    await putting
    return {
      size: whole.bytes,
      sha256: whole.hash.digest('hex'),
      encryption: sealer ? sealer.layout() : null,
      manifest: {
        ...header,
        files: entries.length + attachments.count + docs.length,
        records: systems.reduce((n, s) => n + s.streams.reduce((m, x) => m + x.records, 0), 0),
        attachments,
        entries: [...entries, ...docs]
      }
    }
  } catch (err) {
    // When the store failed first, its failure is the cause: the zip's error only follows from it.
    const cause = (storeFailed as { err: unknown } | null)?.err ?? err
    zip.abort()
    body.destroy(err as Error)
    await Promise.allSettled([piping, putting])
    throw cause
  }
}

/** The sections of the archive: every connector collected, each stream declared or found. */
function overview (deps: BuildDeps, collected: ReadonlySet<string>, totals: StreamTotals[]): SystemOverview[] {
  const ids = [...collected].sort()
  return ids.map((id) => {
    const instance = deps.registry.get(id)
    const mine = totals.filter((t) => t.connectorId === id)
    const names = [...new Set([...(instance?.streams ?? []).map((s) => s.name), ...mine.map((t) => t.stream)])]
    return {
      id,
      displayName: instance?.displayName ?? id,
      streams: names.map((name) => {
        const info = instance?.streams.find((s) => s.name === name)
        const of = (kind: string) => mine.find((t) => t.stream === name && t.kind === kind)
        const latest = [of('record')?.lastCollectedAt, of('file')?.lastCollectedAt].filter((d): d is Date => d !== undefined)
        return {
          name,
          title: info?.processing.title ? inLanguage(info.processing.title, 'en') : humanize(name),
          description: info?.description ?? '',
          categories: info?.categories ?? [],
          records: of('record')?.count ?? 0,
          attachments: of('file')?.count ?? 0,
          collectedAt: latest.length > 0 ? new Date(Math.max(...latest.map((d) => d.getTime()))) : null,
          processing: info?.processing ?? null
        }
      })
    }
  })
}

async function * recordsOf (rows: Iterable<CollectedItemRow> | AsyncIterable<CollectedItemRow>): AsyncGenerator<Record<string, unknown>> {
  for await (const row of rows) yield row.data ?? {}
}

/** Files up to this size are stored in the zip as they are, not deflated. */
const SMALL_FILE_BYTES = 1024

/**
 * Reads `source` ahead up to SMALL_FILE_BYTES: the whole content when it ends within that (`small`),
 * otherwise the chunks read so far followed by the rest (`rest`), to be streamed.
 */
async function smallContent (source: Chunks): Promise<{ small: Buffer, rest?: undefined } | { small?: undefined, rest: Chunks }> {
  const it = (Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]()) as AsyncIterator<Buffer | string> | Iterator<Buffer | string>
  const head: Buffer[] = []
  let size = 0
  for (;;) {
    const next = await it.next()
    if (next.done) return { small: Buffer.concat(head, size) }
    const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value
    head.push(chunk)
    size += chunk.length
    if (size > SMALL_FILE_BYTES) {
      return {
        rest: (async function * () {
          yield * head
          for (let n = await it.next(); !n.done; n = await it.next()) yield n.value
        })()
      }
    }
  }
}

/** A request with at most this many items is read in one query and kept in memory while its archive is built. */
export const READ_AT_ONCE = 2_000

/**
 * The request's items by connector, stream and kind, and their totals. Each stream is read more
 * than once (NDJSON then CSV; files for the zip, index.html and the manifest): a small request is
 * read in one query (the common case, and ~30 queries fewer per archive); a larger one page by
 * page, stream by stream, so memory stays bounded whatever the size.
 */
async function readItems (items: ItemsRepository, requestId: string, firstItems?: CollectedItemRow[]): Promise<{
  totals: StreamTotals[]
  each (connector: string, stream: string, kind: 'record' | 'file'): Iterable<CollectedItemRow> | AsyncIterable<CollectedItemRow>
}> {
  const first = firstItems ?? await items.page(requestId, { limit: READ_AT_ONCE + 1 })
  if (first.length > READ_AT_ONCE) {
    const totals = await items.totals(requestId)
    const has = (c: string, s: string, k: string) => totals.some((t) => t.connectorId === c && t.stream === s && t.kind === k)
    return { totals, each: (c, s, k) => has(c, s, k) ? items.each(requestId, c, s, k) : [] }
  }
  const groups = new Map<string, CollectedItemRow[]>()
  const totals = new Map<string, StreamTotals>()
  for (const row of first) {
    const key = `${row.connectorId}\u0000${row.stream}\u0000${row.kind}`
    let group = groups.get(key)
    if (!group) groups.set(key, group = [])
    group.push(row)
    const total = totals.get(key)
    if (!total) totals.set(key, { connectorId: row.connectorId, stream: row.stream, kind: row.kind as 'record' | 'file', count: 1, lastCollectedAt: row.collectedAt })
    else {
      total.count++
      if (row.collectedAt > total.lastCollectedAt) total.lastCollectedAt = row.collectedAt
    }
  }
  const order = (a: StreamTotals, b: StreamTotals) => a.connectorId.localeCompare(b.connectorId) || a.stream.localeCompare(b.stream) || a.kind.localeCompare(b.kind)
  return { totals: [...totals.values()].sort(order), each: (c, s, k) => groups.get(`${c}\u0000${s}\u0000${k}`) ?? [] }
}

/** A stream's files in collection order, numbered from 1: the same paths each time they are read. */
async function * attachmentLinks (files: Iterable<CollectedItemRow> | AsyncIterable<CollectedItemRow>, connector: string, stream: string): AsyncGenerator<{ link: AttachmentLink, item: CollectedItemRow }> {
  let n = 0
  for await (const item of files) {
    const file = item.file!
    yield { item, link: { connector, stream, name: file.name, bytes: file.size, path: PATHS.attachment(connector, stream, ++n, file.name) } }
  }
}

/** Manifest entries of the attachments, re-read from the database (their hashes were verified while zipping). */
async function * attachmentEntries (systems: SystemOverview[], of: (c: string, s: string) => AsyncIterable<{ link: AttachmentLink, item: CollectedItemRow }>): AsyncGenerator<ManifestFile> {
  for (const system of systems) {
    for (const s of system.streams) {
      if (s.attachments === 0) continue
      for await (const { link, item } of of(system.id, s.name)) {
        const file = item.file!
        yield {
          path: link.path,
          kind: 'attachment',
          media_type: file.contentType,
          connector: system.id,
          stream: s.name,
          categories: s.categories,
          records: null,
          bytes: file.size,
          sha256: file.sha256,
          collected_at: item.collectedAt.toISOString(),
          compression: isCompressed(file.contentType, file.name) ? 'stored' : 'deflated'
        }
      }
    }
  }
}
