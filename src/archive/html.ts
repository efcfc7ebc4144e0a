import type { MissingSystem } from './completeness.js'
import { PATHS } from './layout.js'

/** What index.html shows of one stream. */
export interface StreamOverview {
  name: string
  description: string
  categories: readonly string[]
  records: number
  attachments: number
  collectedAt: Date | null
}

export interface SystemOverview { id: string, displayName: string, streams: StreamOverview[] }

export interface AttachmentLink { connector: string, stream: string, path: string, name: string, bytes: number }

export interface OverviewInput {
  requestId: string
  requestType: string
  regime: string
  generatedAt: Date
  systems: readonly SystemOverview[]
  /** The systems that could not be searched: named at the top of the page. */
  missing: readonly MissingSystem[]
  /** Read from the database page by page while the page is written: never held whole. */
  attachments: (connector: string, stream: string) => AsyncIterable<AttachmentLink>
}

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
const count = (n: number, one: string, many: string) => `${n.toLocaleString('en')} ${n === 1 ? one : many}`

const STYLE = `
  body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d1d1f; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }
  h1 { font-size: 1.6rem; } h2 { margin-top: 2.5rem; border-bottom: 2px solid #d2d2d7; padding-bottom: .3rem; }
  h3 { margin-bottom: .2rem; } .meta, .categories { color: #515154; font-size: .9rem; }
  article { margin: 1rem 0 1.5rem; } ul.files { padding-left: 1.2rem; } code { font-size: .9em; }
  .empty { color: #515154; font-style: italic; } a { color: #0b57d0; }
  .links a { margin-right: 1rem; }
  .incomplete { border: 2px solid #b3261e; border-radius: .4rem; padding: .2rem 1rem; margin: 1rem 0; background: #fff4f2; }
  .incomplete h2 { margin-top: .6rem; border: 0; color: #b3261e; font-size: 1.2rem; }
`

/**
 * index.html: a self-contained page for the person (inline CSS, no scripts, nothing fetched from
 * anywhere; the Content-Security-Policy forbids it). One section per system, one article per
 * stream with its description, categories and record count, linking to the data files by
 * relative path. Written as a stream of strings.
 */
export async function * overviewHtml (input: OverviewInput): AsyncGenerator<string> {
  const records = input.systems.reduce((n, s) => n + s.streams.reduce((m, x) => m + x.records, 0), 0)
  yield `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="referrer" content="no-referrer">
<title>Your data: ${escape(input.requestType)} request ${escape(input.requestId)}</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>Your personal data</h1>
${completenessHtml(input)}<p>This archive answers your ${escape(input.requestType)} request <code>${escape(input.requestId)}</code>
(${escape(input.regime.toUpperCase())}). It was generated on <time datetime="${input.generatedAt.toISOString()}">${escape(input.generatedAt.toUTCString())}</time>
and holds ${count(records, 'record', 'records')} from ${count(input.systems.length, 'system', 'systems')}${input.missing.length > 0 ? ' that could be searched' : ''}.</p>
<p class="meta">Each data set comes as <code>.ndjson</code> (one JSON record per line, for programs),
as <code>.csv</code> (for spreadsheets) and with a JSON Schema describing its fields.
<code>${PATHS.readme}</code> explains the formats; <code>${PATHS.manifest}</code> lists every file with its SHA-256 checksum.</p>
</header>
<main>
`
  for (const system of input.systems) {
    yield `<section data-connector="${escape(system.id)}">\n<h2>${escape(system.displayName)}</h2>\n`
    for (const stream of system.streams) yield * streamHtml(system.id, stream, input)
    yield '</section>\n'
  }
  yield '</main>\n</body>\n</html>\n'
}

function completenessHtml (input: OverviewInput): string {
  const total = input.systems.length + input.missing.length
  if (input.missing.length === 0) {
    return `<p class="complete" data-complete="true">This archive is complete: ${total === 1 ? 'the one system' : `all ${total} systems`} this request covers ${total === 1 ? 'was' : 'were'} searched.</p>\n`
  }
  const n = input.missing.length
  const items = input.missing.map((m) => `<li data-connector="${escape(m.id)}" data-status="${m.status}"${m.code ? ` data-error-code="${escape(m.code)}"` : ''}>` +
    `<strong>${escape(m.displayName)}</strong>: ${escape(m.reason)}${m.code ? ` <code>${escape(m.code)}</code>` : ''}</li>`)
  return `<section class="incomplete" data-complete="false" role="alert">
<h2>This archive is incomplete</h2>
<p>${n} of the ${total} systems this request covers ${n === 1 ? 'was' : 'were'} not searched, so nothing from ${n === 1 ? 'it' : 'them'} is in this archive:</p>
<ul>
${items.join('\n')}
</ul>
<p>Everything found in the other systems is here. If ${n === 1 ? 'that system is' : 'those systems are'} searched later, a new archive will replace this one.</p>
</section>
`
}

async function * streamHtml (connector: string, s: StreamOverview, input: OverviewInput): AsyncGenerator<string> {
  yield `<article data-stream="${escape(s.name)}" data-records="${s.records}" data-attachments="${s.attachments}">
<h3>${escape(s.name)}</h3>
${s.description ? `<p>${escape(s.description)}</p>\n` : ''}${s.categories.length > 0 ? `<p class="categories">Categories: ${s.categories.map(escape).join(', ')}</p>\n` : ''}`
  const found = [
    s.records > 0 ? count(s.records, 'record', 'records') : '',
    s.attachments > 0 ? count(s.attachments, 'file', 'files') : ''
  ].filter(Boolean).join(' and ')
  yield found
    ? `<p class="meta"><span class="count">${found}</span>${s.collectedAt ? `, collected ${escape(s.collectedAt.toUTCString())}` : ''}</p>\n`
    : '<p class="empty">Nothing about you was found here.</p>\n'
  if (s.records > 0) {
    yield `<p class="links"><a href="${PATHS.records(connector, s.name)}">Records (NDJSON)</a>` +
      `<a href="${PATHS.table(connector, s.name)}">Table (CSV)</a>` +
      `<a href="${PATHS.schema(connector, s.name)}">Field descriptions (JSON Schema)</a></p>\n`
  }
  if (s.attachments > 0) {
    yield '<ul class="files">\n'
    for await (const file of input.attachments(connector, s.name)) {
      yield `<li><a href="${encodeURI(file.path)}">${escape(file.name)}</a> <span class="meta">(${count(file.bytes, 'byte', 'bytes')})</span></li>\n`
    }
    yield '</ul>\n'
  }
  yield '</article>\n'
}
