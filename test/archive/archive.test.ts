import t from 'tap'
import { sql } from 'drizzle-orm'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { parse } from 'csv-parse/sync'
import { auth } from '../helper.js'
import { ADA, ADA_CONTACTS, ADA_TICKETS, completedArchive, NOTES, PDF, PNG, readZip, sha256 } from './fixtures.js'

interface ManifestFile {
  path: string,
  kind: string,
  media_type: string,
  connector: string | null,
  stream: string | null,
  categories: string[]
  records: number | null,
  bytes: number,
  sha256: string,
  collected_at: string | null,
  compression: string
}

const { app, id, request } = await completedArchive(t)
const download = await app.inject({ url: `/v1/requests/${id}/archive`, headers: auth() })
const zip = download.rawPayload
const entries = await readZip(zip)
const manifest = JSON.parse(entries.get('manifest.json')!.data.toString('utf8')) as { request: Record<string, string>, files: ManifestFile[], format_version: number }
const text = (path: string) => entries.get(path)!.data.toString('utf8')
const STORED = 0
const DEFLATED = 8

t.test('the request shows its ready archive; the download is that zip', async (t) => {
  t.match(request.archive, {
    status: 'ready',
    size: zip.length,
    sha256: sha256(zip),
    links: { download: `/v1/requests/${id}/archive`, links: `/v1/requests/${id}/archive/links` }
  })
  t.ok(Date.parse(request.archive.expires_at) - Date.parse(request.archive.ready_at) === 30 * 86_400_000, 'kept 30 days by default')
  t.equal(download.statusCode, 200)
  t.match(download.headers, {
    'content-type': 'application/zip',
    'content-disposition': /^attachment; filename="[^"]+\.zip"$/,
    'content-length': String(zip.length),
    etag: `"${sha256(zip)}"`,
    'accept-ranges': 'bytes',
    'cache-control': /no-store/
  })
})

t.test('the manifest accounts for every file: path, hash, size, counts', async (t) => {
  t.match(manifest, { format: 'dsar-archive', format_version: 1, request: { id, type: 'access', regime: 'gdpr' }, generated_at: String })
  const listed = manifest.files.map((f) => f.path).sort()
  t.strictSame(listed, [...entries.keys()].filter((p) => p !== 'manifest.json').sort(), 'every entry but the manifest, and nothing else')
  for (const file of manifest.files) {
    const entry = entries.get(file.path)!
    t.equal(file.sha256, sha256(entry.data), `${file.path}: SHA-256`)
    t.equal(file.bytes, entry.data.length, `${file.path}: bytes`)
  }
  const byPath = new Map(manifest.files.map((f) => [f.path, f]))
  t.match(byPath.get('data/crm/contacts.ndjson'), {
    kind: 'records', connector: 'crm', stream: 'contacts', categories: ['contact', 'identity'], records: 2, collected_at: String
  })
  t.match(byPath.get('data/support/tickets.csv'), { kind: 'table', connector: 'support', records: 3, categories: ['communications'] })
  t.match(byPath.get('schemas/crm/contacts.schema.json'), { kind: 'schema', records: 2 })
  t.match(byPath.get('files/crm/documents/1-photo.png'), { kind: 'attachment', media_type: 'image/png', records: null, bytes: PNG.length, compression: 'stored' })
  t.notOk([...byPath.keys()].some((p) => p.includes('deals')), 'no data files for a stream with nothing about her')
  t.notOk(zip.includes(Buffer.from('grace')) || zip.includes(Buffer.from('Grace')), 'nothing of anyone else')
  t.match(manifest.request, { id })
})

t.test('NDJSON: one record per line, as collected, each valid against its JSON Schema', async (t) => {
  const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true })
  const expected: Record<string, unknown[]> = { 'crm/contacts': ADA_CONTACTS, 'support/tickets': ADA_TICKETS }
  const ndjsonFiles = manifest.files.filter((f) => f.kind === 'records')
  t.equal(ndjsonFiles.length, 2)
  for (const file of ndjsonFiles) {
    const lines = text(file.path).split('\n')
    t.equal(lines.pop(), '', 'ends with a newline')
    const records = lines.map((l) => JSON.parse(l))
    t.equal(records.length, file.records, `${file.path}: count`)
    t.strictSame(records, expected[`${file.connector}/${file.stream}`], `${file.path}: the records, values and types intact`)
    const schema = JSON.parse(text(`schemas/${file.connector}/${file.stream}.schema.json`))
    t.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema')
    const validate = ajv.compile(schema)
    for (const [i, record] of records.entries()) t.ok(validate(record), `${file.path} record ${i} is valid`) || t.comment(validate.errors)
  }
  const contacts = ajv.getSchema('schemas/crm/contacts.schema.json')!
  t.strictSame(JSON.parse(text('schemas/crm/contacts.schema.json')).required.sort(), ['email', 'id', 'name', 'ratio', 'score'], 'required = in every record')
  t.notOk(contacts({ ...ADA_CONTACTS[1], score: 'three' }), 'the schema is not vacuous: a wrong type fails')
  t.notOk(contacts({ email: ADA, name: 'x', score: 1, ratio: 1 }), 'a missing required field fails')
})

t.test('CSV: RFC 4180, header = union of keys, nested values as JSON, formulas neutralised', async (t) => {
  const raw = entries.get('data/crm/contacts.csv')!.data
  t.strictSame([...raw.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'UTF-8 byte order mark')
  const body = raw.subarray(3).toString('utf8')
  t.ok(body.endsWith('\r\n'), 'CRLF line ends')
  const rows: string[][] = parse(raw, { bom: true, relax_column_count: false })
  const header = rows[0]!
  // The records as stored (jsonb keeps keys in its own canonical order), as the NDJSON file has them.
  const stored = text('data/crm/contacts.ndjson').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
  t.strictSame(header, [...new Set(stored.flatMap((r) => Object.keys(r)))], 'keys in order of first appearance')
  t.strictSame([...header].sort(), [...new Set(ADA_CONTACTS.flatMap((r) => Object.keys(r)))].sort(), 'every key of every record')
  const cell = (v: unknown): string => {
    if (v === null || v === undefined) return ''
    if (typeof v === 'string') return /^[=+\-@\t\r]/.test(v) ? `'${v}` : v
    if (typeof v === 'object') return JSON.stringify(v)
    return String(v)
  }
  t.strictSame(rows.slice(1), stored.map((r) => header.map((k) => cell(r[k]))), 'every cell')
  const first = Object.fromEntries(header.map((k, i) => [k, rows[1]![i]]))
  t.match(first, { formula: "'=SUM(A1)", plus: "'+1", minus: "'-2", at: "'@x", tab: "'\tindented", score: '-2', active: 'true', nothing: '' },
    'text that looks like a formula is prefixed; numbers are not')
  t.strictSame(JSON.parse(first.nested!), ADA_CONTACTS[0]!.nested, 'nested values as JSON')
  t.equal(first.newline, 'line one\nline two\r\nline three', 'newlines survive inside quotes')
  const tickets: string[][] = parse(entries.get('data/support/tickets.csv')!.data, { bom: true })
  t.equal(tickets.length, 1 + ADA_TICKETS.length)
  const comments = tickets[1]![tickets[0]!.indexOf('comments')]!
  t.strictSame(JSON.parse(comments), ADA_TICKETS[0]!.comments, 'arrays of objects as JSON (a formula inside JSON stays as it is)')
})

t.test('attachments: streamed as stored, safe names, compression per type', async (t) => {
  t.strictSame(entries.get('files/crm/documents/1-photo.png')?.data, PNG)
  t.strictSame(entries.get('files/crm/documents/2-contract 2024_final.pdf')?.data, PDF, 'path separators in a name are replaced')
  t.strictSame(entries.get('files/crm/documents/3-notes.txt')?.data, NOTES)
  t.equal(entries.get('files/crm/documents/1-photo.png')!.compressionMethod, STORED, 'PNG stored')
  t.equal(entries.get('files/crm/documents/2-contract 2024_final.pdf')!.compressionMethod, STORED, 'PDF stored')
  t.equal(entries.get('files/crm/documents/3-notes.txt')!.compressionMethod, DEFLATED, 'text deflated')
  t.ok(entries.get('files/crm/documents/3-notes.txt')!.compressedSize < NOTES.length, 'and actually smaller')
  // Generated files: deflated, except those of 1 KiB or less, which are stored whole.
  const generated = [...entries.values()].filter((e) => !e.name.startsWith('files/'))
  for (const e of generated) {
    t.equal(e.compressionMethod, e.data.length <= 1024 ? STORED : DEFLATED, `${e.name} (${e.data.length} bytes) ${e.data.length <= 1024 ? 'stored' : 'deflated'}`)
  }
  t.ok(generated.some((e) => e.data.length <= 1024) && generated.some((e) => e.data.length > 1024), 'both kinds are in this archive')
  for (const f of manifest.files.filter((f) => f.kind !== 'attachment')) {
    t.equal(f.compression, entries.get(f.path)!.compressionMethod === STORED ? 'stored' : 'deflated', `the manifest says how ${f.path} is kept`)
  }
  const attachments = manifest.files.filter((f) => f.kind === 'attachment')
  t.equal(attachments.length, 3, 'the three files of Ada, not Grace\'s')
})

t.test('index.html and README.txt are there for the person', async (t) => {
  const html = text('index.html')
  t.match(html, /<section data-connector="crm">\s*<h2>Acme CRM<\/h2>/)
  t.match(html, /<article data-stream="contacts" data-records="2"/)
  t.match(html, /<article data-stream="deals" data-records="0"/, 'a searched stream with nothing is shown as such')
  t.match(html, /href="data\/crm\/contacts\.csv"/)
  t.notMatch(html, /<script|<link|<img|<iframe|\s(src|srcset)=|url\(/i, 'no scripts, nothing fetched (links to web pages are followed only when the person clicks)')
  t.match(text('README.txt'), /sha256sum/)
})

t.test('README.txt and manifest.json carry the Art 15 information too, for a person and for a receiving controller', async (t) => {
  const readme = text('README.txt')
  t.match(readme, /WHO WE ARE, AND YOUR RIGHTS \(English\)[\s\S]*Example Learning Technology \(Shenzhen\) Co\., Ltd\.[\s\S]*Complain to a supervisory authority/)
  t.match(readme, /我们是谁，以及您的权利 \(简体中文\)[\s\S]*示例学习科技（深圳）有限公司[\s\S]*向监管机构投诉/)
  t.match(readme, /Acme CRM: Your contact details \(data\/crm\/contacts\.\*\)\r\nPeople and how to reach them\r\nWhy we use it:\r\n {4}Managing our customer relationship with you\r\n/)
  t.match(readme, /Help Desk: Tickets[\s\S]*How long we keep it:\r\n {4}Three years after the ticket is closed\r\n/)
  const information = (JSON.parse(text('manifest.json')) as { information: { controller: { languages: string[], dpo: { email: string } }, streams: Array<Record<string, unknown>> } }).information
  t.strictSame(information.controller.languages, ['en', 'zh-Hans'])
  t.equal(information.controller.dpo.email, 'dpo@company.example')
  t.strictSame(information.streams.map((s) => `${s.connector}/${s.stream}`), ['crm/contacts', 'crm/deals', 'crm/documents', 'support/tickets'])
  t.match(information.streams[0], {
    title: 'Your contact details',
    categories: ['contact', 'identity'],
    purposes: ['Managing our customer relationship with you'],
    legal_basis: 'Contract (GDPR Art 6(1)(b))',
    recipients: ['Our sales staff', { en: 'Our hosting provider (processor)', 'zh-Hans': '我们的托管服务商（受托处理者）' }],
    retention: { rule: 'Two years after the last contact', period: 'P2Y' },
    locations: [{ country: 'DE', as: 'stored' }, { country: 'CN', as: 'transferred' }],
    automated_decisions: false
  })
  t.match(information.streams[2], { retention: { rule: 'Ten years, as commercial law requires', period: 'P10Y' } }, 'per stream as configured')
})

t.test('each download is audited without personal data; the right scope is needed', async (t) => {
  const events = (await app.inject({ url: `/v1/requests/${id}/events`, headers: auth() })).json().data as Array<{ action: string, actor: string, details: Record<string, unknown> }>
  const downloads = events.filter((e) => e.action === 'archive_downloaded')
  t.ok(downloads.length >= 1)
  t.match(downloads[0], { actor: 'admin', details: { range: null, bytes: zip.length, status: 200 } })
  t.strictSame(Object.keys(downloads[0]!.details).sort(), ['archive_id', 'bytes', 'range', 'status'])
  t.match(events.find((e) => e.action === 'archive_ready'), { actor: 'engine', details: { bytes: zip.length, records: 5, files: manifest.files.length } })
  t.notOk(JSON.stringify(events.filter((e) => e.action.startsWith('archive'))).includes(ADA), 'no identifiers in archive events')
  t.equal((await app.inject({ url: `/v1/requests/${id}/archive`, headers: auth('reader') })).statusCode, 403, 'requests:read is not enough')
  t.equal((await app.inject({ url: `/v1/requests/${id}/archive` })).statusCode, 401)
  const [row] = await app.dbh.rows<{ n: number }>(sql`select count(*)::int as n from archives where request_id = ${id}`)
  t.equal(Number(row?.n), 1, 'one archive per request')
})

t.test('a request without an archive: 404 unknown, 409 not ready', async (t) => {
  const unknown = await app.inject({ url: '/v1/requests/00000000-0000-4000-8000-000000000000/archive', headers: auth() })
  t.match(unknown, { statusCode: 404 })
  t.equal(unknown.json().code, 'DSR_REQUEST_NOT_FOUND')
  const pending = (await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: { type: 'access', regime: 'gdpr', subject: { email: ADA } } })).json()
  const notReady = await app.inject({ url: `/v1/requests/${pending.id}/archive`, headers: auth() })
  t.equal(notReady.statusCode, 409)
  t.equal(notReady.json().code, 'DSR_ARCHIVE_NOT_READY')
  t.equal((await app.inject({ url: `/v1/requests/${pending.id}`, headers: auth() })).json().archive, null, 'archive: null until completion')
})
