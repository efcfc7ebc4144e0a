import type { StreamOverview, SystemOverview } from './manifest.js'
import type { Language } from '../connectors/texts.js'
import type { MissingSystem } from './completeness.js'
import type { ControllerInfo } from './controller.js'
import { recordsTable, escape, count } from './html-table.js'
import { controllerFacts, streamFacts, type Fact } from './information.js'
import { LABELS, STREAM_LABELS } from './labels.js'
import { PATHS } from './layout.js'

export type { StreamOverview, SystemOverview } from './manifest.js'

export interface AttachmentLink { connector: string, stream: string, path: string, name: string, bytes: number }

export interface OverviewInput {
  requestId: string
  requestType: string
  regime: string
  generatedAt: Date
  systems: readonly SystemOverview[]
  /** The systems that could not be searched: named at the top of the page. */
  missing: readonly MissingSystem[]
  /** The company-wide information: controller, contacts, authorities, rights. */
  controller: ControllerInfo
  /** Read from the database page by page while the page is written: never held whole. */
  attachments: (connector: string, stream: string) => AsyncIterable<AttachmentLink>
  /** A stream's records, read page by page (only the first HTML_ROWS_PER_STREAM are read), and its fields. */
  records: (connector: string, stream: string) => AsyncIterable<Record<string, unknown>>
  columns: (connector: string, stream: string) => readonly string[]
}

const STYLE = `
  body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", "Noto Sans CJK SC", sans-serif; color: #1d1d1f; max-width: 64rem; margin: 2rem auto; padding: 0 1rem; }
  h1 { font-size: 1.6rem; } h2 { margin-top: 2.5rem; border-bottom: 2px solid #d2d2d7; padding-bottom: .3rem; }
  h3 { margin-bottom: .2rem; font-size: 1.25rem; } h4 { margin: 1rem 0 .3rem; font-size: 1rem; }
  .meta, .categories, .note { color: #515154; font-size: .9rem; }
  article { margin: 1rem 0 2rem; } ul.files { padding-left: 1.2rem; } code { font-size: .9em; overflow-wrap: anywhere; }
  .empty { color: #515154; font-style: italic; } a { color: #0b57d0; overflow-wrap: anywhere; }
  .links a { margin-right: 1rem; display: inline-block; }
  .incomplete { border: 2px solid #b3261e; border-radius: .4rem; padding: .2rem 1rem; margin: 1rem 0; background: #fff4f2; }
  .incomplete h2 { margin-top: .6rem; border: 0; color: #b3261e; font-size: 1.2rem; }
  .scroll { overflow-x: auto; max-width: 100%; border: 1px solid #d2d2d7; border-radius: .3rem; }
  .scroll:focus { outline: 2px solid #0b57d0; outline-offset: 2px; }
  table { border-collapse: collapse; font-size: .9rem; min-width: 100%; }
  th, td { text-align: left; vertical-align: top; padding: .35rem .6rem; border-bottom: 1px solid #e5e5ea; }
  th { background: #f5f5f7; white-space: nowrap; } td { white-space: pre-line; min-width: 9rem; max-width: 28rem; overflow-wrap: anywhere; }
  tbody tr:nth-child(even) { background: #fafafc; }
  details.records > summary { cursor: pointer; color: #0b57d0; margin: .4rem 0; }
  dl.info { display: grid; grid-template-columns: minmax(8rem, 14rem) 1fr; gap: .3rem 1rem; margin: 0; }
  dl.info dt { font-weight: 600; } dl.info dd { margin: 0; } dl.info dd p { margin: 0 0 .2rem; }
  .about { background: #f5f5f7; border-radius: .4rem; padding: .2rem 1rem 1rem; margin: 1.5rem 0; }
  .about h2 { margin-top: 1rem; } .about h3 { font-size: 1.05rem; margin-top: 1rem; }
  .about dd { margin: 0 0 .6rem; } .about dt { font-weight: 600; }
  @media (max-width: 40rem) { body { margin: 1rem auto; } dl.info { grid-template-columns: 1fr; } dl.info dd { margin-bottom: .5rem; } }
`

/**
 * index.html: a self-contained page for the person (inline CSS, no scripts, nothing fetched from
 * anywhere; the Content-Security-Policy forbids it). At the top who is responsible and the
 * person's rights, in each configured language; then one section per system and one article per
 * stream: its records as a table, its files, and what is done with that data. Written as a stream
 * of strings, the records read page by page.
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
${completenessHtml(input)}<p>This is a copy of the personal data we hold about you, in answer to your ${escape(input.requestType)} request
<code>${escape(input.requestId)}</code> (${escape(input.regime.toUpperCase())}) of <time datetime="${input.generatedAt.toISOString()}">${escape(input.generatedAt.toUTCString())}</time>.
It holds ${count(records, 'record', 'records')} from ${count(input.systems.length, 'system', 'systems')}${input.missing.length > 0 ? ' that could be searched' : ''}.
For each system you see the data itself, why we use it, who receives it and how long we keep it.</p>
<p class="meta">The same data is in this folder as files that spreadsheet programs and other services can read; <code>${PATHS.readme}</code> explains them.</p>
</header>
<main>
`
  for (const language of input.controller.languages) yield aboutHtml(input.controller, language)
  for (const system of input.systems) {
    yield `<section data-connector="${escape(system.id)}">\n<h2>${escape(system.displayName)}</h2>\n`
    for (const stream of system.streams) yield * streamHtml(system.id, stream, input)
    yield '</section>\n'
  }
  yield '</main>\n</body>\n</html>\n'
}

/** The company-wide part in one language, marked with its `lang` so it is read out in that language. */
function aboutHtml (info: ControllerInfo, language: Language): string {
  const id = `about-${language}`
  const groups = controllerFacts(info, language).map((g) => `<h3>${escape(g.heading)}</h3>
${g.intro ? `<p>${escape(g.intro)}</p>\n` : ''}${factsHtml(g.facts)}`)
  return `<section class="about" lang="${language}" data-about="${language}" aria-labelledby="${id}">
<h2 id="${id}">${escape(LABELS[language].aboutHeading)}</h2>
${groups.join('\n')}
</section>
`
}

/** Labelled facts as a description list; a fact without a label as a paragraph. */
function factsHtml (facts: Fact[]): string {
  return facts.map((f) => f.label
    ? `<dl>\n<dt>${escape(f.label)}</dt><dd>${f.values.map(valueHtml).join('<br>')}</dd>\n</dl>`
    : f.values.map((v) => `<p>${valueHtml(v)}</p>`).join('\n')).join('\n')
}

/** A contact line: a link when it is an address or a web page. */
function valueHtml (value: string): string {
  if (/^https?:\/\/\S+$/.test(value)) return `<a href="${escape(value)}">${escape(value)}</a>`
  if (/^[^@\s]+@[^@\s]+$/.test(value)) return `<a href="mailto:${escape(value)}">${escape(value)}</a>`
  return escape(value)
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
<h3>${escape(s.title)}</h3>
${s.description ? `<p>${escape(s.description)}</p>\n` : ''}`
  const found = [
    s.records > 0 ? count(s.records, 'record', 'records') : '',
    s.attachments > 0 ? count(s.attachments, 'file', 'files') : ''
  ].filter(Boolean).join(' and ')
  yield found
    ? `<p class="meta"><span class="count">${found}</span>${s.collectedAt ? `, collected ${escape(s.collectedAt.toUTCString())}` : ''}</p>\n`
    : '<p class="empty">Nothing about you was found here.</p>\n'
  const files = { table: PATHS.table(connector, s.name), records: PATHS.records(connector, s.name) }
  if (s.records > 0) {
    yield * recordsTable({ title: s.title, columns: input.columns(connector, s.name), records: s.records, rows: input.records(connector, s.name), files })
  }
  if (s.attachments > 0) {
    yield '<ul class="files">\n'
    for await (const file of input.attachments(connector, s.name)) {
      yield `<li><a href="${encodeURI(file.path)}">${escape(file.name)}</a> <span class="meta">(${count(file.bytes, 'byte', 'bytes')})</span></li>\n`
    }
    yield '</ul>\n'
  }
  if (s.processing) {
    yield `<h4>${STREAM_LABELS.about}</h4>
<dl class="info" data-processing>
${streamFacts(s.categories, s.processing).map((f) => `<dt>${escape(f.label)}</dt><dd>${f.values.map((v) => `<p>${escape(v)}</p>`).join('')}</dd>`).join('\n')}
</dl>
`
  } else if (s.categories.length > 0) {
    yield `<p class="categories">Categories: ${s.categories.map(escape).join(', ')}</p>\n`
  }
  if (s.records > 0) {
    yield `<p class="links">Download: <a href="${files.table}">the table (CSV, for spreadsheets)</a>` +
      `<a href="${files.records}">the records (NDJSON, for programs)</a>` +
      `<a href="${PATHS.schema(connector, s.name)}">the field descriptions (JSON Schema)</a></p>\n`
  }
  yield '</article>\n'
}
