import type { Language } from '../connectors/texts.js'

/** The rights a person is told of with their data (Art 15(1)(e) and (f)), in the order shown; CONTROLLER_FILE says how to use each. */
export const RIGHTS = ['rectification', 'erasure', 'restriction', 'objection', 'portability', 'withdraw_consent', 'complaint'] as const
export type Right = typeof RIGHTS[number]

/**
 * The archive's own words, in each language it ships: the headings of what GDPR Art 15(1) and (2)
 * and PIPL Arts 17 and 39 require the person be told, and the names of their rights. The texts a
 * deployment writes (purposes, contacts, …) come from its configuration.
 */
export interface Labels {
  aboutHeading: string
  controller: string
  representative: string
  dpo: string
  authorities: string
  rightsHeading: string
  rightsIntro: string
  transfers: string
  rights: Record<Right, string>
}

export const LABELS: Record<Language, Labels> = {
  en: {
    aboutHeading: 'Who we are, and your rights',
    controller: 'Who is responsible for your data',
    representative: 'Our representative',
    dpo: 'Data protection officer',
    authorities: 'Where you can complain',
    rightsHeading: 'Your rights',
    rightsIntro: 'You can ask us to do any of the following, and how:',
    transfers: 'Data sent to other countries',
    rights: {
      rectification: 'Correct data that is wrong or incomplete',
      erasure: 'Erase your data',
      restriction: 'Restrict how we use your data',
      objection: 'Object to how we use your data',
      portability: 'Receive your data, or have it sent to another company',
      withdraw_consent: 'Withdraw your consent',
      complaint: 'Complain to a supervisory authority'
    }
  },
  'zh-Hans': {
    aboutHeading: '我们是谁，以及您的权利',
    controller: '谁对您的个人信息负责',
    representative: '我们的代表',
    dpo: '个人信息保护负责人',
    authorities: '您可以向谁投诉',
    rightsHeading: '您的权利',
    rightsIntro: '您可以要求我们做以下任何一项，方式如下：',
    transfers: '向境外提供的个人信息',
    rights: {
      rectification: '更正不准确或不完整的个人信息',
      erasure: '删除您的个人信息',
      restriction: '限制我们处理您的个人信息',
      objection: '拒绝我们处理您的个人信息',
      portability: '获取您的个人信息，或将其转移给另一家公司',
      withdraw_consent: '撤回您的同意',
      complaint: '向监管机构投诉'
    }
  }
}

/** The language names, each in its own language (for `lang`-marked headings and README.txt). */
export const LANGUAGE_NAMES: Record<Language, string> = { en: 'English', 'zh-Hans': '简体中文' }

/** Headings of a stream's processing information, in the page's language (English). */
export const STREAM_LABELS = {
  about: 'About this data',
  purposes: 'Why we use it',
  legalBasis: 'Legal basis',
  categories: 'Kinds of data',
  recipients: 'Who receives it',
  retention: 'How long we keep it',
  source: 'Where it comes from',
  locations: 'Where it is stored and sent',
  automated: 'Automated decisions'
} as const

/** What the processing information says when a field is absent, in plain words. */
export const STREAM_DEFAULTS = {
  recipients: 'No one outside the company.',
  source: 'You, or your use of our services.',
  automated: 'None: no decision about you is made by automated means alone from this data.',
  locations: 'Not stated.',
  legalBasis: 'Not stated.'
} as const

const WORDS: Record<string, string> = {
  email: 'e-mail', id: 'ID', ids: 'IDs', url: 'URL', ip: 'IP', uuid: 'UUID', utc: 'UTC', sms: 'SMS', api: 'API', pdf: 'PDF'
}

/** A field or stream name as words: `recipient_email` → "Recipient e-mail", `sentAt` → "Sent at". */
export function humanize (name: string): string {
  const words = name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').split(/[_\-\s.]+/).filter(Boolean).map((w) => WORDS[w.toLowerCase()] ?? w.toLowerCase())
  if (words.length === 0) return name
  const first = words[0]!
  words[0] = first.charAt(0).toUpperCase() + first.slice(1)
  return words.join(' ')
}

/** An ISO 8601 duration in words: P1M → "1 month", P2Y6M → "2 years 6 months", P90D → "90 days". */
export function durationText (iso: string): string {
  const m = /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec(iso)
  if (!m) return iso
  const units = ['year', 'month', 'week', 'day', 'hour', 'minute', 'second']
  const parts = units.flatMap((u, i) => {
    const n = Number(m[i + 1] ?? 0)
    return n > 0 ? [`${n} ${u}${n === 1 ? '' : 's'}`] : []
  })
  return parts.length > 0 ? parts.join(' ') : iso
}
