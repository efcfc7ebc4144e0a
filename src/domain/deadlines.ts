// Statutory response deadlines for data subject requests, counted the way each law counts them.
// The rules live in one data table (DEADLINE_RULES); the code below only interprets it.
// All counting happens on calendar dates in the request's time zone: the law speaks of days and
// months, not of 24-hour periods, so the receipt instant is first turned into a local date.
import { DateTime, IANAZone } from 'luxon'
import Holidays from 'date-holidays'

export const REGIMES = ['gdpr', 'uk_gdpr', 'ccpa', 'lgpd', 'fadp', 'pipeda', 'pipl'] as const
export type Regime = typeof REGIMES[number]

export interface DeadlineOptions { piplDays: number }
export const DEFAULT_DEADLINE_OPTIONS: DeadlineOptions = { piplDays: 30 }

export interface DeadlineInput {
  regime: Regime
  receivedAt: Date
  timeZone?: string
  jurisdiction?: string
  /**
   * Whole days the clock stood still while the controller waited on the person (only where the
   * regime's `clockStopsForIdentity` allows it): the period ends that many days later, and only then
   * rolls forward to a working day where the regime rolls.
   */
  pausedDays?: number
}

export interface Deadline {
  dueAt: Date // last instant of the due day in the request's time zone, as a UTC instant
  dueDate: string // the due day itself, 'YYYY-MM-DD' in that zone
  acknowledgeBy: Date | null // CCPA only: 10 business days
  extendedDueAt: Date | null // latest date with the statutory extension (null where the law sets none)
  timeZone: string // 'UTC' unless given
  rule: string // short human citation
}

export interface RegimeRule {
  period: 'months' | 'days'
  // A fixed count, or the name of the option that supplies it (PIPL sets no number in statute).
  amount: number | keyof DeadlineOptions
  // 'uk_working_day': ICO guidance moves a deadline that lands on a weekend or bank holiday to
  // the next working day. Nothing else rolls: EU GDPR months are plain calendar months.
  rollForward: 'none' | 'uk_working_day'
  acknowledgeBusinessDays: number | null
  // Total length of the period with the extension, counted from receipt in the same unit.
  extendedAmount: number | null
  // Whether the time limit stops while the controller waits on the person to confirm their identity
  // (the service's verification challenge). UK GDPR Art 12A, inserted by the Data (Use and Access)
  // Act 2025: the period does not run while the controller awaits the information it reasonably
  // asked for to confirm identity (ICO guidance: "stop the clock"). Everywhere else the deadline keeps
  // running (CCPA regs §7021 say so expressly: verification time counts), and the wait only shows.
  clockStopsForIdentity: boolean
  rule: string // '{n}' is replaced by the resolved amount
}

export const DEADLINE_RULES: Readonly<Record<Regime, RegimeRule>> = {
  gdpr: {
    period: 'months',
    amount: 1,
    rollForward: 'none',
    acknowledgeBusinessDays: null,
    extendedAmount: 3,
    clockStopsForIdentity: false,
    rule: 'GDPR Art 12(3): one month from receipt; extendable by two further months (3 in total)'
  },
  uk_gdpr: {
    period: 'months',
    amount: 1,
    rollForward: 'uk_working_day',
    acknowledgeBusinessDays: null,
    extendedAmount: 3,
    clockStopsForIdentity: true,
    rule: 'UK GDPR Art 12(3) (ICO guidance): one calendar month from receipt, next working day if it ends on a weekend or bank holiday; extendable by two further months'
  },
  ccpa: {
    period: 'days',
    amount: 45,
    rollForward: 'none',
    acknowledgeBusinessDays: 10,
    extendedAmount: 90,
    clockStopsForIdentity: false,
    rule: 'CCPA regs 11 CCR §7021: confirm within 10 business days, respond within 45 calendar days; extendable by 45 days (90 in total)'
  },
  lgpd: {
    period: 'days',
    amount: 15,
    rollForward: 'none',
    acknowledgeBusinessDays: null,
    extendedAmount: null,
    clockStopsForIdentity: false,
    rule: 'LGPD Art 19(II): complete response within 15 days of the request'
  },
  fadp: {
    period: 'days',
    amount: 30,
    rollForward: 'none',
    acknowledgeBusinessDays: null,
    extendedAmount: null,
    clockStopsForIdentity: false,
    rule: 'FADP Art 25 with DPO Art 18(1): 30 days from receipt; no fixed extension (delay must be notified)'
  },
  pipeda: {
    period: 'days',
    amount: 30,
    rollForward: 'none',
    acknowledgeBusinessDays: null,
    extendedAmount: 60,
    clockStopsForIdentity: false,
    rule: 'PIPEDA s.8(3): 30 days after receipt; s.8(4) extension of up to 30 more days'
  },
  pipl: {
    period: 'days',
    amount: 'piplDays',
    rollForward: 'none',
    acknowledgeBusinessDays: null,
    extendedAmount: null,
    clockStopsForIdentity: false,
    rule: 'PIPL Art 50: respond promptly; service deadline set at {n} days from receipt'
  }
}

// Luxon checks a zone by building an Intl.DateTimeFormat each time, which costs more than the
// rest of intake together; the set of real zones is small, so answers are remembered. Only valid
// names are kept, so arbitrary input cannot grow the cache.
const knownZones = new Set<string>(['UTC'])

/** True when `tz` names a zone the runtime's IANA database knows (e.g. 'Europe/London', 'UTC'). */
export function isValidTimeZone (tz: string): boolean {
  if (typeof tz !== 'string' || tz.length === 0) return false
  if (knownZones.has(tz)) return true
  const valid = IANAZone.isValidZone(tz)
  if (valid) knownZones.add(tz)
  return valid
}

// ---- UK bank holidays -------------------------------------------------------------------------

type UkRegion = 'ENG' | 'SCT' | 'WLS' | 'NIR'

// Bank holidays differ per nation (Scotland has St Andrew's Day but no Easter Monday, Northern
// Ireland has St Patrick's Day...). England and Wales is the default for anything unspecific.
function ukRegion (jurisdiction: string | undefined): UkRegion {
  switch (jurisdiction?.toUpperCase()) {
    case 'GB-SCT': return 'SCT'
    case 'GB-WLS': return 'WLS'
    case 'GB-NIR': return 'NIR'
    default: return 'ENG'
  }
}

const holidayCalendars = new Map<UkRegion, Holidays>()
const holidayDates = new Map<string, Set<string>>() // `${region}:${year}` -> 'YYYY-MM-DD' set

function ukBankHolidays (region: UkRegion, year: number): Set<string> {
  const key = `${region}:${year}`
  let dates = holidayDates.get(key)
  if (dates === undefined) {
    let calendar = holidayCalendars.get(region)
    if (calendar === undefined) {
      calendar = new Holidays('GB', region)
      holidayCalendars.set(region, calendar)
    }
    // Only 'public' entries are days off (bank holidays and their substitute days);
    // 'observance' entries such as Mother's Day are not.
    dates = new Set(calendar.getHolidays(year).filter(h => h.type === 'public').map(h => h.date.slice(0, 10)))
    holidayDates.set(key, dates)
  }
  return dates
}

function isUkWorkingDay (day: DateTime, region: UkRegion): boolean {
  return day.weekday <= 5 && !ukBankHolidays(region, day.year).has(day.toISODate() ?? '')
}

// ---- date arithmetic on calendar dates (carried as UTC-midnight DateTimes, so no DST) -------------

function addPeriod (start: DateTime, period: RegimeRule['period'], amount: number): DateTime {
  // Luxon clamps month arithmetic to the end of a shorter month (31 Jan + 1 month = 28/29 Feb),
  // which is exactly the "corresponding date, else last day of the month" rule.
  return period === 'months' ? start.plus({ months: amount }) : start.plus({ days: amount })
}

function roll (day: DateTime, policy: RegimeRule['rollForward'], region: UkRegion): DateTime {
  if (policy === 'none') return day
  let d = day
  while (!isUkWorkingDay(d, region)) d = d.plus({ days: 1 })
  return d
}

// Business days are Mon-Fri; the day of receipt itself is not counted.
function addBusinessDays (start: DateTime, count: number): DateTime {
  let d = start
  for (let n = 0; n < count;) {
    d = d.plus({ days: 1 })
    if (d.weekday <= 5) n++
  }
  return d
}

function endOfDayIn (day: DateTime, zone: string): Date {
  if (zone === 'UTC') return new Date(Date.UTC(day.year, day.month - 1, day.day, 23, 59, 59, 999))
  return DateTime.fromObject({ year: day.year, month: day.month, day: day.day }, { zone }).endOf('day').toJSDate()
}

export function computeDeadline (input: DeadlineInput, options: DeadlineOptions = DEFAULT_DEADLINE_OPTIONS): Deadline {
  const spec = DEADLINE_RULES[input.regime]
  if (spec === undefined) throw new Error(`Unknown regime: ${String(input.regime)}`)
  const zone = input.timeZone ?? 'UTC'
  if (!isValidTimeZone(zone)) throw new Error(`Unknown time zone: '${zone}' is not an IANA time zone`)
  if (!(input.receivedAt instanceof Date) || Number.isNaN(input.receivedAt.getTime())) {
    throw new Error('receivedAt must be a valid Date')
  }
  const amount = typeof spec.amount === 'number' ? spec.amount : options[spec.amount]
  if (!Number.isInteger(amount) || amount <= 0) throw new Error(`Deadline length must be a positive integer, got ${amount}`)
  const paused = spec.clockStopsForIdentity ? input.pausedDays ?? 0 : 0
  if (!Number.isInteger(paused) || paused < 0) throw new Error(`Paused days must be a whole number of days, got ${paused}`)

  // The local calendar date of receipt, re-anchored at UTC midnight for pure date arithmetic.
  const local = zone === 'UTC' ? utcDate(input.receivedAt) : DateTime.fromJSDate(input.receivedAt, { zone })
  const region = ukRegion(input.jurisdiction)

  // Everything below depends only on these, so every request received on the same local day under
  // the same rule gets the same answer: computed once with luxon (the dearest step of intake after
  // the database round trip), then copied. Fresh Dates each call, so callers may not share state.
  const key = `${input.regime}|${amount}|${paused}|${zone}|${region}|${local.year}-${local.month}-${local.day}`
  let cached = deadlineCache.get(key)
  if (cached === undefined) {
    cached = countDeadline(spec, amount, DateTime.utc(local.year, local.month, local.day), zone, region, paused)
    if (deadlineCache.size >= DEADLINE_CACHE_MAX) deadlineCache.clear() // received_at is client-chosen: stay bounded
    deadlineCache.set(key, cached)
  }
  return {
    dueAt: new Date(cached.dueAt),
    dueDate: cached.dueDate,
    acknowledgeBy: cached.acknowledgeBy === null ? null : new Date(cached.acknowledgeBy),
    extendedDueAt: cached.extendedDueAt === null ? null : new Date(cached.extendedDueAt),
    timeZone: zone,
    rule: cached.rule
  }
}

interface CountedDeadline { dueAt: number, dueDate: string, acknowledgeBy: number | null, extendedDueAt: number | null, rule: string }

const DEADLINE_CACHE_MAX = 10_000
const deadlineCache = new Map<string, CountedDeadline>()

function utcDate (d: Date): { year: number, month: number, day: number } {
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() }
}

function countDeadline (spec: RegimeRule, amount: number, received: DateTime, zone: string, region: UkRegion, pausedDays: number): CountedDeadline {
  const due = roll(addPeriod(received, spec.period, amount).plus({ days: pausedDays }), spec.rollForward, region)
  const extended = spec.extendedAmount === null
    ? null
    : roll(addPeriod(received, spec.period, spec.extendedAmount).plus({ days: pausedDays }), spec.rollForward, region)
  const ack = spec.acknowledgeBusinessDays === null ? null : addBusinessDays(received, spec.acknowledgeBusinessDays)

  return {
    dueAt: endOfDayIn(due, zone).getTime(),
    dueDate: due.toISODate() ?? '',
    acknowledgeBy: ack === null ? null : endOfDayIn(ack, zone).getTime(),
    extendedDueAt: extended === null ? null : endOfDayIn(extended, zone).getTime(),
    rule: spec.rule.replace('{n}', String(amount))
  }
}

const DAY_MS = 86_400_000

/**
 * The whole days between the clock stopping and resuming: 24-hour periods, rounded down, so a wait
 * never moves a deadline by more than it lasted.
 */
export function wholeDaysBetween (from: Date, to: Date): number {
  return Math.max(0, Math.floor((to.getTime() - from.getTime()) / DAY_MS))
}
