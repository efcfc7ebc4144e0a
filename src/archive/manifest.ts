import type { ControllerInfo } from './controller.js'
import type { StreamProcessing } from '../connectors/processing.js'
import { ARCHIVE_FORMAT_VERSION } from './layout.js'

/** What the archive shows of one stream (index.html, README.txt, the manifest's information). */
export interface StreamOverview {
  name: string
  /** A readable name for the stream (its configured title, or its name in words). */
  title: string
  description: string
  categories: readonly string[]
  records: number
  attachments: number
  collectedAt: Date | null
  /** What is done with this data (purposes, retention, …); null for a stream the connector does not declare. */
  processing: StreamProcessing | null
}

export interface SystemOverview { id: string, displayName: string, streams: StreamOverview[] }

export type ManifestFileKind = 'records' | 'table' | 'schema' | 'attachment' | 'overview' | 'readme'

/** One file of the archive, as manifest.json describes it. `bytes` and `sha256` are of its content. */
export interface ManifestFile {
  path: string
  kind: ManifestFileKind
  media_type: string
  connector: string | null
  stream: string | null
  categories: readonly string[]
  /** Records in the file (data and schema files: of the stream); null for attachments and documents. */
  records: number | null
  bytes: number
  sha256: string
  /** Latest collection time of the stream's data; null for the archive's own documents. */
  collected_at: string | null
  compression: 'stored' | 'deflated'
}

/**
 * One system the request was to search, and whether it was: `collected` (its data is in the
 * archive), `failed` (it could not be searched: `error_code` is the coded reason, never a message
 * that could hold personal data) or `skipped` (staff decided not to search it: `skip_reason`).
 */
export interface ManifestSystem {
  connector: string
  status: 'collected' | 'failed' | 'skipped'
  error_code?: string
  skip_reason?: string
}

/**
 * Whether the archive holds everything the request was to find. `complete` is true only when every
 * system was collected; the systems that were not have no files in the archive.
 */
export interface ManifestCompleteness { complete: boolean, systems: ManifestSystem[] }

export interface ManifestHeader {
  format: 'dsar-archive'
  format_version: number
  request: { id: string, type: string, regime: string }
  generated_at: string
  completeness: ManifestCompleteness
}

/**
 * What the database keeps of a manifest (`archives.manifest`): the header, every file except the
 * attachments (one entry per stream and format: bounded by configuration), and attachment totals.
 * The full list is in the archive's manifest.json.
 */
export interface ManifestSummary extends ManifestHeader {
  files: number
  records: number
  attachments: { count: number, bytes: number }
  entries: ManifestFile[]
}

export function manifestHeader (request: { id: string, type: string, regime: string }, generatedAt: Date, systems: readonly ManifestSystem[]): ManifestHeader {
  return {
    format: 'dsar-archive',
    format_version: ARCHIVE_FORMAT_VERSION,
    request: { id: request.id, type: request.type, regime: request.regime },
    generated_at: generatedAt.toISOString(),
    completeness: {
      complete: systems.every((s) => s.status === 'collected'),
      systems: systems.map((s) => ({ ...s }))
    }
  }
}

/**
 * What the person is told with their data, for a program (a receiving controller in a direct
 * transfer gets it too): the company-wide part as configured, and per stream its processing
 * information, texts as configured (a string, or one per language).
 */
export interface ManifestInformation {
  controller: ControllerInfo
  streams: Array<Record<string, unknown> & { connector: string, stream: string }>
}

export function manifestInformation (controller: ControllerInfo, systems: readonly SystemOverview[]): ManifestInformation {
  return {
    controller,
    streams: systems.flatMap((system) => system.streams.map((s) => {
      const { enforced, ...retention } = s.processing?.retention ?? { rule: null }
      return {
        connector: system.id,
        stream: s.name,
        title: s.title,
        description: s.description,
        categories: [...s.categories],
        ...(s.processing
          ? {
              ...s.processing,
              retention: { ...retention, ...(enforced ? { enforced: { max_age: enforced.maxAge, from: enforced.from, action: enforced.action } } : {}) }
            }
          : {})
      }
    }))
  }
}

/**
 * manifest.json, written as a stream: the header, the processing information, then `files`, one entry per line. Attachments are
 * read back from the database page by page, so the manifest of a very large archive is never held whole.
 */
export async function * manifestJson (header: ManifestHeader, groups: Array<Iterable<ManifestFile> | AsyncIterable<ManifestFile>>, information?: ManifestInformation): AsyncGenerator<string> {
  const head = JSON.stringify(information ? { ...header, information } : header, null, 2)
  yield `${head.slice(0, -2)},\n  "files": [`
  let first = true
  for (const group of groups) {
    for await (const file of group) {
      yield `${first ? '' : ','}\n    ${JSON.stringify(file)}`
      first = false
    }
  }
  yield '\n  ]\n}\n'
}
