import type { StreamProcessing } from '../connectors/processing.js'

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
