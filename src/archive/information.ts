import type { StreamProcessing } from '../connectors/processing.js'
import { inLanguage, type Language, type Text } from '../connectors/texts.js'
import type { ControllerInfo } from './controller.js'
import { durationText, humanize, LABELS, RIGHTS, STREAM_DEFAULTS, STREAM_LABELS } from './labels.js'

/**
 * What the person is told with their data, as headings and lines: one model that index.html and
 * README.txt each lay out in their own way, so the two cannot say different things.
 */
export interface Fact { label: string, values: string[] }
export interface FactGroup { heading: string, intro?: string, facts: Fact[] }

const en = (t: Text) => inLanguage(t, 'en')
let regions: Intl.DisplayNames | undefined
/** A country's English name (made on first use: most archives name few countries, some none). */
const country = (code: string) => { try { return (regions ??= new Intl.DisplayNames(['en'], { type: 'region' })).of(code) ?? code } catch { return code } }

/** A stream's processing information (Art 15(1)(a)–(d), (g), (h) and 15(2)), in English. */
export function streamFacts (categories: readonly string[], p: StreamProcessing): Fact[] {
  return [
    { label: STREAM_LABELS.purposes, values: p.purposes.map(en) },
    { label: STREAM_LABELS.legalBasis, values: [p.legal_basis ? en(p.legal_basis) : STREAM_DEFAULTS.legalBasis] },
    { label: STREAM_LABELS.categories, values: [categories.length > 0 ? categories.join(', ') : 'Not stated.'] },
    { label: STREAM_LABELS.recipients, values: p.recipients.length > 0 ? p.recipients.map(en) : [STREAM_DEFAULTS.recipients] },
    { label: STREAM_LABELS.retention, values: retentionLines(p.retention) },
    { label: STREAM_LABELS.source, values: [p.source ? en(p.source) : STREAM_DEFAULTS.source] },
    { label: STREAM_LABELS.locations, values: p.locations.length > 0 ? p.locations.map(locationText) : [STREAM_DEFAULTS.locations] },
    { label: STREAM_LABELS.automated, values: [p.automated_decisions ? en(p.automated_decisions) : STREAM_DEFAULTS.automated] }
  ]
}

function retentionLines (r: StreamProcessing['retention']): string[] {
  const lines = [`${en(r.rule)}${r.period ? ` (${durationText(r.period)})` : ''}`]
  if (r.enforced) {
    const what = r.enforced.action === 'delete' ? 'deletes it' : 'clears its personal fields'
    lines.push(`The system ${what} automatically ${durationText(r.enforced.maxAge)} after the "${humanize(r.enforced.from)}" date.`)
  }
  return lines
}

function locationText (l: StreamProcessing['locations'][number]): string {
  const where = country(l.country)
  const what = l.as === 'stored' ? `${where}: stored there` : `${where}: sent there${l.recipient ? ` to ${en(l.recipient)}` : ''}`
  return `${what}${l.safeguard ? `. Safeguard: ${en(l.safeguard)}` : ''}`
}

/** The company-wide part, in `language`: who is responsible, whom to contact, where to complain, the rights. */
export function controllerFacts (info: ControllerInfo, language: Language): FactGroup[] {
  const labels = LABELS[language]
  const t = (text: { en: string, 'zh-Hans'?: string }) => inLanguage(text, language)
  const party = (p: { name: { en: string }, address: { en: string }, email: string, phone?: string, website?: string }): Fact => ({
    label: t(p.name),
    values: [t(p.address), p.email, ...(p.phone ? [p.phone] : []), ...(p.website ? [p.website] : [])]
  })
  const groups: FactGroup[] = [
    { heading: labels.controller, facts: [party(info.controller)] },
    ...(info.representatives?.length ? [{ heading: labels.representative, facts: info.representatives.map((r) => ({ ...party(r), label: `${t(r.region)}: ${t(r.name)}` })) }] : []),
    { heading: labels.dpo, facts: [{ label: info.dpo.name ? t(info.dpo.name) : labels.dpo, values: [...(info.dpo.address ? [t(info.dpo.address)] : []), info.dpo.email] }] },
    {
      heading: labels.rightsHeading,
      intro: labels.rightsIntro,
      facts: RIGHTS.flatMap((r) => info.rights[r] ? [{ label: labels.rights[r], values: [t(info.rights[r])] }] : [])
    },
    {
      heading: labels.authorities,
      facts: info.supervisory_authorities.map((a) => ({ label: t(a.name), values: [...(a.applies ? [t(a.applies)] : []), a.website] }))
    }
  ]
  if (info.transfers) groups.push({ heading: labels.transfers, facts: [{ label: '', values: [t(info.transfers)] }] })
  return groups
}
