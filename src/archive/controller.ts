import { extname } from 'node:path'
import { Type, type Static } from 'typebox'
import { parse as parseYaml } from 'yaml'
import { ConfigError, readConfigFile } from '../config.js'
import { checked } from '../connectors/processing.js'
import type { Language } from '../connectors/texts.js'

/**
 * The company-wide part of what the person is told with their data (GDPR Arts 13–15, PIPL Art 17):
 * who the controller is and how to reach it and its DPO, its representative where it has one, the
 * supervisory authorities, and how to use each right. Read from CONTROLLER_FILE at start; every
 * text is given in each of `languages`, and the archive shows them all.
 */

const closed = { additionalProperties: false } as const
/** A text per language; which languages must be there is checked against `languages`. */
const Localized = Type.Object({ en: Type.String({ minLength: 1 }), 'zh-Hans': Type.Optional(Type.String({ minLength: 1 })) }, closed)
const Email = Type.String({ pattern: '^[^@\\s]+@[^@\\s]+$' })
const Url = Type.String({ pattern: '^https?://' })

const Party = Type.Object({
  name: Localized,
  address: Localized,
  email: Email,
  phone: Type.Optional(Type.String({ minLength: 1 })),
  website: Type.Optional(Url)
}, closed)

export const ControllerFileSchema = Type.Object({
  $comment: Type.Optional(Type.String()),
  /** The languages every text is given in, and the archive shows the company-wide part in (LANGUAGES). */
  languages: Type.Array(Type.Union([Type.Literal('en'), Type.Literal('zh-Hans')]), { minItems: 1, uniqueItems: true }),
  controller: Party,
  /** The representative in the EU (GDPR Art 27) or Switzerland (revFADP Art 14) of a controller outside them. */
  representatives: Type.Optional(Type.Array(Type.Object({ region: Localized, ...Party.properties }, closed))),
  dpo: Type.Object({ name: Type.Optional(Localized), email: Email, address: Type.Optional(Localized) }, closed),
  supervisory_authorities: Type.Array(Type.Object({ name: Localized, website: Url, applies: Type.Optional(Localized) }, closed), { minItems: 1 }),
  /** How to use each right; the five the law names (Art 15(1)(e), (f)) must be there. */
  rights: Type.Object({
    rectification: Localized,
    erasure: Localized,
    restriction: Localized,
    objection: Localized,
    portability: Type.Optional(Localized),
    withdraw_consent: Type.Optional(Localized),
    complaint: Localized
  }, closed),
  /** What the company does about cross-border transfers in general (PIPL Art 39, GDPR Art 15(2)). */
  transfers: Type.Optional(Localized)
}, closed)
export type ControllerInfo = Static<typeof ControllerFileSchema>

/** Reads CONTROLLER_FILE (JSON, or YAML by extension) and checks it: any gap stops the service. */
export function readControllerFile (path: string): ControllerInfo {
  const text = readConfigFile('CONTROLLER_FILE', path)
  let parsed: unknown
  try {
    parsed = ['.yaml', '.yml'].includes(extname(path)) ? parseYaml(text) : JSON.parse(text)
  } catch (err) {
    throw new ConfigError(`CONTROLLER_FILE: ${path} does not parse: ${(err as Error).message}`)
  }
  return checkControllerInfo(parsed, `CONTROLLER_FILE ${path}`)
}

export function checkControllerInfo (value: unknown, source: string): ControllerInfo {
  const info = checked(ControllerFileSchema, value, source)
  for (const language of info.languages) {
    const gap = untranslated(info, language, '')
    if (gap) throw new ConfigError(`${source}: ${gap} has no "${language}" text, and "${language}" is one of /languages`)
  }
  return info
}

/** The first localized text (an object with `en`) lacking `language`, as a path. */
function untranslated (value: unknown, language: Language, path: string): string | null {
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) {
      const gap = untranslated(v, language, `${path}/${i}`)
      if (gap) return gap
    }
    return null
  }
  if (value === null || typeof value !== 'object') return null
  if ('en' in value) return language in value ? null : path
  for (const [k, v] of Object.entries(value)) {
    const gap = untranslated(v, language, `${path}/${k}`)
    if (gap) return gap
  }
  return null
}
