import { join } from 'node:path'
import Negotiator from 'negotiator'
import { Type, type Static } from 'typebox'
import { ConfigError, readConfigFile } from '../config.js'
import { checked } from '../connectors/processing.js'
import { LANGUAGES, type Language } from '../connectors/texts.js'
import { REGIMES } from '../domain/deadlines.js'
import { REQUEST_TYPES } from '../domain/requests.js'
import { catalogued } from '../errors.js'
import { shippedPath } from '../shipped-path.js'

/**
 * The privacy centre's configuration: which rights it offers, under which law a request made there is
 * answered, and every word it shows, in each of its languages. The shipped file
 * (views/privacy/texts.json) is used unless PRIVACY_CENTRE_FILE names another of the same shape; a
 * missing text or language stops the service at start, naming it.
 */

/** The rights the centre can take: a rectification needs the fields and values to change, so it is explained, not offered. */
export const CENTRE_RIGHTS = REQUEST_TYPES.filter((t) => t !== 'rectification')
export type CentreRight = typeof CENTRE_RIGHTS[number]

/** Where a request stands, as the person is told it. */
export const PHASES = ['confirming', 'in_progress', 'completed', 'partly_done', 'rejected', 'cancelled'] as const
export type Phase = typeof PHASES[number]

const closed = { additionalProperties: false } as const
const text = Type.String({ minLength: 1, maxLength: 2000 })
const all = <K extends string>(keys: readonly K[]) => Type.Object(Object.fromEntries(keys.map((k) => [k, text])) as Record<K, typeof text>, closed)

const Texts = Type.Object({
  title: text,
  languageName: text,
  otherLanguages: text,
  intro: text,
  rightLegend: text,
  rightNames: all(CENTRE_RIGHTS),
  rectification: text,
  emailLabel: text,
  emailHint: text,
  submit: text,
  sentTitle: text,
  sentBody: text,
  /** `{hours}`: how long the e-mailed link is valid. */
  sentExpiry: text,
  confirmTitle: text,
  confirmBody: text,
  confirmButton: text,
  statusTitle: text,
  statusIntro: text,
  statusLabels: all(['type', 'status', 'received', 'due', 'extended', 'extensionReason', 'refusal'] as const),
  phases: all(PHASES),
  downloadHeading: text,
  downloadIntro: text,
  downloadButton: text,
  downloadGone: text,
  downloadPending: text,
  archiveHeading: text,
  archiveParts: all(['index', 'readme', 'data', 'schemas', 'files', 'manifest'] as const),
  aboutHeading: text,
  systemsHeading: text,
  purposes: text,
  recipients: text,
  retention: text,
  source: text,
  notStated: text,
  errorTitle: text,
  invalidForm: text,
  back: text,
  requestId: text,
  /** `{minutes}`: when the person may try again. */
  tooMany: text,
  statusEmailSubject: text,
  /** `{link}`: the signed status link. */
  statusEmailBody: text,
  /** What an error page says for a code, in the person's words; a code not here shows the API's message. */
  messages: Type.Optional(Type.Record(Type.String({ pattern: '^DSR_[A-Z0-9_]+$' }), text))
}, closed)
export type CentreTexts = Static<typeof Texts>

export const PrivacyCentreFileSchema = Type.Object({
  $comment: Type.Optional(Type.String()),
  /** The law a request made in the centre is answered under (its deadline). */
  regime: Type.Enum([...REGIMES]),
  /** ISO 3166 code the deadline's public holidays are counted in, where the regime needs one. */
  jurisdiction: Type.Optional(Type.String({ pattern: '^[A-Z]{2}(-[A-Z0-9]{1,3})?$' })),
  /** The rights offered, in the order shown. */
  rights: Type.Array(Type.Enum([...CENTRE_RIGHTS]), { minItems: 1, uniqueItems: true }),
  /** The languages offered; the first is shown when the browser asks for none of them. */
  languages: Type.Array(Type.Enum([...LANGUAGES]), { minItems: 1, uniqueItems: true }),
  texts: Type.Object({ en: Type.Optional(Texts), 'zh-Hans': Type.Optional(Texts) }, closed)
}, closed)
export type PrivacyCentreConfig = Static<typeof PrivacyCentreFileSchema>

/** The shipped configuration. */
export const SHIPPED_PRIVACY_CENTRE_FILE = join(shippedPath(import.meta.url, '../../views', 'privacy/texts.json'), 'privacy/texts.json')

/** Reads and checks the centre's configuration: every offered language has every text. */
export function readPrivacyCentreFile (path: string | undefined): PrivacyCentreConfig {
  const file = path ?? SHIPPED_PRIVACY_CENTRE_FILE
  let parsed: unknown
  try {
    parsed = JSON.parse(readConfigFile('PRIVACY_CENTRE_FILE', file))
  } catch (err) {
    if (err instanceof ConfigError) throw err
    throw new ConfigError(`PRIVACY_CENTRE_FILE: ${file} does not parse: ${(err as Error).message}`)
  }
  const config = checked(PrivacyCentreFileSchema, parsed, `PRIVACY_CENTRE_FILE ${file}`)
  for (const language of config.languages) {
    const texts = config.texts[language]
    if (!texts) throw new ConfigError(`PRIVACY_CENTRE_FILE ${file}: /texts has no "${language}", and "${language}" is one of /languages`)
    const unknown = Object.keys(texts.messages ?? {}).find((code) => !catalogued(code))
    if (unknown) throw new ConfigError(`PRIVACY_CENTRE_FILE ${file}: /texts/${language}/messages names ${unknown}, which is not an error code of the service`)
  }
  return config
}

/** `{name}` placeholders filled in. */
export function fill (template: string, values: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => name in values ? String(values[name]) : whole)
}

/** Tags a browser may ask for, and the language each is answered in (Simplified Chinese as zh-CN, zh-SG or plain zh too). */
const TAGS: Record<string, Language> = { en: 'en', 'zh-Hans': 'zh-Hans', 'zh-CN': 'zh-Hans', 'zh-SG': 'zh-Hans', zh: 'zh-Hans' }
const byTag = new Map(Object.entries(TAGS).map(([tag, language]) => [tag.toLowerCase(), language]))

/** The language a page is shown in: the one named in the address (`lang`), else the browser's preferred offered one (Accept-Language), else the first offered. */
export function pickLanguage (offered: readonly Language[], asked: string | undefined, acceptLanguage: string | undefined): Language {
  const named = asked === undefined ? undefined : byTag.get(asked.toLowerCase())
  if (named && offered.includes(named)) return named
  const available = Object.keys(TAGS).filter((tag) => offered.includes(TAGS[tag]!))
  const best = new Negotiator({ headers: { 'accept-language': acceptLanguage ?? '' } }).language(available)
  return (best ? TAGS[best] : undefined) ?? offered[0]!
}
