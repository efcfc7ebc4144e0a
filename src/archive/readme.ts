import type { MissingSystem } from './completeness.js'
import type { ControllerInfo } from './controller.js'
import type { SystemOverview } from './manifest.js'
import { controllerFacts, streamFacts, type Fact } from './information.js'
import { LABELS, LANGUAGE_NAMES } from './labels.js'
import { ARCHIVE_FORMAT_VERSION, PATHS } from './layout.js'

export interface ReadmeInput {
  requestId: string
  requestType: string
  regime: string
  generatedAt: Date
  /** How many systems the request was to search. */
  systems: number
  /** Those that could not be searched: named at the top. */
  missing: readonly MissingSystem[]
  /** The company-wide information, and each system's streams with what is done with their data. */
  controller: ControllerInfo
  sections: readonly SystemOverview[]
}

/** README.txt: how to read the archive, for the person and for whoever imports it. */
export function readmeText (input: ReadmeInput): string {
  return `YOUR PERSONAL DATA
==================

${completenessText(input)}

Request:   ${input.requestId} (${input.requestType}, ${input.regime.toUpperCase()})
Generated: ${input.generatedAt.toISOString()}
Format:    dsar-archive version ${ARCHIVE_FORMAT_VERSION}

Start with ${PATHS.index}: open it in any web browser. It shows, for every system that was
searched, the data it holds about you as tables, why we use it, who receives it and how long we
keep it, and links to the files below. It needs no internet connection.

${aboutText(input.controller)}
WHAT WE DO WITH YOUR DATA
-------------------------

${processingText(input.sections)}
WHAT IS IN THIS ARCHIVE
-----------------------

${PATHS.index}
    An overview to read in a browser.

data/<system>/<data set>.ndjson
    The records, one JSON object per line (NDJSON, UTF-8, lines end with LF). Meant for programs:
    each line can be parsed on its own, and values keep their types (numbers, true/false, lists,
    nested objects).

data/<system>/<data set>.csv
    The same records as a table for spreadsheet programs (RFC 4180: comma-separated, UTF-8 with a
    byte order mark, CRLF line ends, a header row naming the columns). Columns are the fields in
    the order they first appear. An empty cell means the field is empty or absent. Nested values
    (lists, objects) are written as JSON. Text that starts with = + - @ (or a tab or carriage
    return) is prefixed with an apostrophe ' so that a spreadsheet shows it as text instead of
    running it as a formula; the .ndjson file has the value exactly as stored.

schemas/<system>/<data set>.schema.json
    A JSON Schema (draft 2020-12) describing the fields of that data set: their types, and which
    fields every record has. Every record in the .ndjson file is valid against it.

files/<system>/<data set>/<n>-<name>
    Documents and other files, exactly as the system holds them, numbered within their data set.

${PATHS.manifest}
    The information above for programs ("information": the controller, contacts, authorities and
    rights as configured, and per data set its purposes, legal basis, recipients, retention,
    source, countries and automated decisions), and a machine-readable list of every file in this archive (except itself): its path, the system
    and data set it comes from, the data categories, the number of records, its size in bytes,
    its SHA-256 checksum and when the data was collected. Its "completeness" part lists every
    system that was to be searched, with "status" collected, failed (with the "error_code" saying
    why) or skipped (with the "skip_reason"), and "complete": true only if all were collected.

CHECKING THE FILES
------------------

Each file's SHA-256 checksum is in ${PATHS.manifest} ("sha256"). To check a file on Linux or
macOS, in the folder where you extracted the archive:

    sha256sum data/<system>/<data set>.ndjson      (Linux)
    shasum -a 256 data/<system>/<data set>.ndjson  (macOS)

On Windows (PowerShell):

    Get-FileHash -Algorithm SHA256 data\\<system>\\<data set>.ndjson

The printed checksum must equal the one in the manifest. The service that sent you this archive
also records the checksum of the whole .zip file, so the archive as a whole can be checked too.
`.replace(/\n/g, '\r\n')
}

function completenessText (input: ReadmeInput): string {
  if (input.missing.length === 0) {
    return `This archive is complete: ${input.systems === 1 ? 'the one system' : `all ${input.systems} systems`} this request covers ${input.systems === 1 ? 'was' : 'were'} searched.`
  }
  const lines = input.missing.map((m) => `  - ${m.displayName} (${m.id}): ${m.reason}${m.code ? ` [${m.code}]` : ''}`)
  const n = input.missing.length
  return `THIS ARCHIVE IS INCOMPLETE
--------------------------

${n} of the ${input.systems} systems this request covers ${n === 1 ? 'was' : 'were'} not searched, so nothing
from ${n === 1 ? 'it' : 'them'} is in this archive:

${lines.join('\n')}

Everything found in the other systems is here. If ${n === 1 ? 'that system is' : 'those systems are'} searched later,
a new archive will replace this one.`
}

const underline = (title: string, c: string) => `${title}\n${c.repeat([...title].length * (/[\u3000-\u9fff]/.test(title) ? 2 : 1))}`
const facts = (list: Fact[]) => list.map((f) => `${f.label ? `${f.label}:\n` : ''}${f.values.map((v) => `    ${v}`).join('\n')}`).join('\n')

/** The company-wide part, once per configured language. */
function aboutText (info: ControllerInfo): string {
  return info.languages.map((language) => {
    const groups = controllerFacts(info, language).map((g) => `${g.heading}\n${g.intro ? `${g.intro}\n` : ''}${facts(g.facts)}\n`)
    return `${underline(`${LABELS[language].aboutHeading.toUpperCase()} (${LANGUAGE_NAMES[language]})`, '-')}\n\n${groups.join('\n')}\n`
  }).join('')
}

/** Per system and data set: what it is and what is done with it. */
function processingText (systems: readonly SystemOverview[]): string {
  return systems.map((system) => system.streams.map((s) => {
    const head = `${system.displayName}: ${s.title} (data/${system.id}/${s.name}.*)`
    return `${head}\n${s.description ? `${s.description}\n` : ''}${s.processing ? facts(streamFacts(s.categories, s.processing)) : ''}\n`
  }).join('\n')).join('\n')
}
