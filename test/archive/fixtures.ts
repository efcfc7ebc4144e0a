import { createHash, randomBytes } from 'node:crypto'
import yauzl from 'yauzl'
import { auth, build, registryOf, requestBody, testDb, waitFor } from '../helper.js'
import { readControllerFile } from '../../src/archive/controller.js'
import { SAMPLE_CONTROLLER_FILE } from '../../src/connectors/samples.js'
import type { BlobStore } from '../../src/storage/blob-store.js'

/** The bundled sample company's information, which the app uses when CONTROLLER_FILE is not set. */
export const CONTROLLER = readControllerFile(SAMPLE_CONTROLLER_FILE)

export const ADA = 'ada@example.com'
export const GRACE = 'grace@example.com'

/** A valid 1×1 PNG. */
export const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64')
export const PDF = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n')
export const NOTES = Buffer.from('Notes about Ada,\nwritten over two lines. Ünïcödé too.\n'.repeat(20))

/** Ada's contact records: nested values, formula-looking text, commas, quotes, newlines, unicode. */
export const ADA_CONTACTS = [
  {
    id: 'c1',
    email: ADA,
    name: 'Ada Lovelace',
    formula: '=SUM(A1)',
    plus: '+1',
    minus: '-2',
    at: '@x',
    tab: '\tindented',
    comma: 'Analytical, Engine',
    quote: 'she said "numbers"',
    newline: 'line one\nline two\r\nline three',
    unicode: 'Zoë — 日本語 🚀',
    nested: { address: { city: 'London', lines: ["12 St James's Square", null] }, tags: ['math', 1, true] },
    score: -2,
    ratio: 0.5,
    active: true,
    nothing: null
  },
  { id: 'c2', email: ADA, name: 'A. A. Lovelace', score: 3, ratio: 1, extra: 'only in the second record' }
]

export const ADA_TICKETS = [1, 2, 3].map((n) => ({
  id: `t${n}`,
  requester: ADA,
  subject: `Ticket ${n}, about "billing"`,
  comments: [{ by: 'agent', text: `reply ${n}` }, { by: 'ada', text: '=cmd|\' /C calc\'!A0' }],
  priority: n
}))

export interface Systems { big?: Buffer }

/** What the CRM does with Ada's data: every field of the information, some per stream. */
export const CRM_PROCESSING = {
  purposes: ['Managing our customer relationship with you'],
  legal_basis: 'Contract (GDPR Art 6(1)(b))',
  recipients: ['Our sales staff', { en: 'Our hosting provider (processor)', 'zh-Hans': '我们的托管服务商（受托处理者）' }],
  retention: { rule: 'Two years after the last contact', period: 'P2Y' },
  source: 'You, when you signed up',
  locations: [{ country: 'DE', as: 'stored' }, { country: 'CN', as: 'transferred', recipient: 'Our engineers in Shenzhen', safeguard: 'Standard contractual clauses (GDPR Art 46(2)(c))' }],
  automated_decisions: false,
  streams: {
    contacts: { title: 'Your contact details' },
    documents: { title: 'Documents you signed', retention: { rule: 'Ten years, as commercial law requires', period: 'P10Y' } }
  }
}
export const SUPPORT_PROCESSING = {
  purposes: ['Answering your support requests'],
  retention: { rule: 'Three years after the ticket is closed' },
  automated_decisions: 'Tickets are sorted by topic automatically; a person answers each one.'
}

/** Two systems holding Ada (and Grace, who must never appear), one with documents. */
export function systems (opts: Systems = {}) {
  const file = (key: string, name: string, contentType: string, content: Buffer, email = ADA) =>
    ({ key, name, content_type: contentType, content_base64: content.toString('base64'), email })
  return [
    {
      id: 'crm',
      driver: 'memory',
      display_name: 'Acme CRM',
      processing: CRM_PROCESSING,
      settings: {
        streams: [
          {
            name: 'contacts',
            description: 'People and how to reach them',
            categories: ['contact', 'identity'],
            match: { email: 'email' },
            records: [...ADA_CONTACTS, { id: 'c3', email: GRACE, name: 'Grace Hopper' }]
          },
          { name: 'deals', description: 'Sales opportunities', categories: ['commercial'], match: { email: 'email' }, records: [{ id: 'd1', email: GRACE }] },
          {
            name: 'documents',
            description: 'Signed documents and photos',
            categories: ['documents'],
            match: { email: 'email' },
            files: [
              file('f1', 'photo.png', 'image/png', PNG),
              file('f2', 'contract 2024/final.pdf', 'application/pdf', PDF),
              file('f3', 'notes.txt', 'text/plain; charset=utf-8', NOTES),
              file('f4', 'grace.txt', 'text/plain', Buffer.from('Grace only'), GRACE),
              ...(opts.big ? [file('f5', 'scan.jpg', 'image/jpeg', opts.big)] : [])
            ]
          }
        ]
      }
    },
    {
      id: 'support',
      driver: 'memory',
      display_name: 'Help Desk',
      processing: SUPPORT_PROCESSING,
      settings: {
        streams: [{
          name: 'tickets',
          description: 'Support conversations',
          categories: ['communications'],
          match: { email: 'requester' },
          records: [...ADA_TICKETS, { id: 't9', requester: GRACE, subject: 'Grace\'s ticket', comments: [], priority: 1 }]
        }]
      }
    }
  ]
}

export const bigFile = (bytes: number) => randomBytes(bytes)
export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex')
export const env = { TASK_POLL_SECONDS: '0.5', TASK_RETRY_BASE_MS: '50', LOG_LEVEL: 'silent' }

type Tap = Parameters<typeof build>[0]

/** The app with the two systems, and Ada's access request run until its archive is ready. */
export async function completedArchive (t: Tap, opts: { env?: Record<string, string>, systems?: Systems, embedded?: boolean, storage?: BlobStore } = {}) {
  const registry = await registryOf(systems(opts.systems))
  const app = await build(t, {
    registry, env: { ...env, ...opts.env }, ...(opts.embedded ? { dbh: await testDb(t, { embedded: true }) } : {}), ...(opts.storage ? { storage: opts.storage } : {})
  })
  return { app, registry, ...await archivedRequest(app) }
}

/** A new access request for Ada, verified at intake, once its archive is ready. */
export async function archivedRequest (app: Awaited<ReturnType<typeof build>>) {
  const created = await app.inject({
    method: 'POST',
    url: '/v1/requests',
    headers: auth(),
    payload: requestBody({ subject: { email: ADA }, verification: { method: 'account_login' } })
  })
  if (created.statusCode !== 202) throw new Error(`request not created: ${created.body}`)
  const id: string = created.json().id
  const request = await waitFor(async () => {
    const body = (await app.inject({ url: `/v1/requests/${id}`, headers: auth() })).json()
    if (body.archive?.status === 'failed') throw new Error('the archive build failed')
    return body.archive?.status === 'ready' ? body : null
  }, 60_000, 'the archive to be ready')
  return { id, request }
}

export interface ZipEntry { name: string, compressionMethod: number, compressedSize: number, data: Buffer }

/** Every entry of a zip, read with yauzl (which checks each entry's CRC and sizes). */
export async function readZip (zip: Buffer): Promise<Map<string, ZipEntry>> {
  const file = await yauzl.fromBufferPromise(zip, { lazyEntries: true, validateEntrySizes: true })
  const entries = new Map<string, ZipEntry>()
  for await (const entry of file.eachEntry()) {
    const chunks: Buffer[] = []
    for await (const chunk of await file.openReadStreamPromise(entry)) chunks.push(chunk as Buffer)
    entries.set(entry.fileName, { name: entry.fileName, compressionMethod: entry.compressionMethod, compressedSize: entry.compressedSize, data: Buffer.concat(chunks) })
  }
  return entries
}
