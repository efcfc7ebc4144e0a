import t from 'tap'
import {
  computeDeadline,
  isValidTimeZone,
  DEADLINE_RULES,
  REGIMES,
  wholeDaysBetween,
  type DeadlineInput,
  type DeadlineOptions
} from '../../src/domain/deadlines.js'

// Every expected value below was worked out by hand against a calendar, not copied from the code.
// Weekday anchors (2026): 1 Jan Thu, 1 Feb Sun, 1 Mar Sun, 1 Apr Wed, 1 May Fri, 1 Jun Mon,
// 1 Jul Wed, 1 Aug Sat, 1 Sep Tue, 1 Oct Thu, 1 Nov Sun, 1 Dec Tue; 1 Jan 2027 Fri.
// DST 2026: US starts 8 Mar; EU/UK starts 29 Mar, ends 25 Oct.

interface Case {
  name: string
  input: DeadlineInput
  options?: DeadlineOptions
  dueDate: string
  dueAt?: string // defaults to `${dueDate}T23:59:59.999Z` (UTC requests only)
  acknowledgeBy?: string | null // asserted when present
  extendedDueAt?: string | null // asserted when present
}

const noon = (day: string): Date => new Date(`${day}T12:00:00Z`)
const eod = (day: string): string => `${day}T23:59:59.999Z`

const cases: Case[] = [
  // ---- EU GDPR: calendar months, corresponding date or last day of month, never rolled ----
  { name: 'gdpr 3 Mar -> 3 Apr (corresponding date)', input: { regime: 'gdpr', receivedAt: noon('2026-03-03') }, dueDate: '2026-04-03', extendedDueAt: eod('2026-06-03'), acknowledgeBy: null },
  { name: 'gdpr 31 Jan 2026 -> 28 Feb 2026 (short month)', input: { regime: 'gdpr', receivedAt: noon('2026-01-31') }, dueDate: '2026-02-28', extendedDueAt: eod('2026-04-30') },
  { name: 'gdpr 31 Jan 2028 -> 29 Feb 2028 (leap year)', input: { regime: 'gdpr', receivedAt: noon('2028-01-31') }, dueDate: '2028-02-29', extendedDueAt: eod('2028-04-30') },
  { name: 'gdpr 30 Mar -> 30 Apr', input: { regime: 'gdpr', receivedAt: noon('2026-03-30') }, dueDate: '2026-04-30' },
  { name: 'gdpr 31 Mar -> 30 Apr (no 31 Apr)', input: { regime: 'gdpr', receivedAt: noon('2026-03-31') }, dueDate: '2026-04-30', extendedDueAt: eod('2026-06-30') },
  { name: 'gdpr 31 Aug -> 30 Sep', input: { regime: 'gdpr', receivedAt: noon('2026-08-31') }, dueDate: '2026-09-30', extendedDueAt: eod('2026-11-30') },
  { name: 'gdpr 31 Dec 2026 -> 31 Jan 2027 (year rollover)', input: { regime: 'gdpr', receivedAt: noon('2026-12-31') }, dueDate: '2027-01-31', extendedDueAt: eod('2027-03-31') },
  { name: 'gdpr 29 Feb 2028 -> 29 Mar 2028', input: { regime: 'gdpr', receivedAt: noon('2028-02-29') }, dueDate: '2028-03-29', extendedDueAt: eod('2028-05-29') },
  { name: 'gdpr 28 Feb -> 28 Mar (corresponding date, not month end)', input: { regime: 'gdpr', receivedAt: noon('2026-02-28') }, dueDate: '2026-03-28' },
  { name: 'gdpr due Saturday 7 Mar stays Saturday (EU has no roll-forward)', input: { regime: 'gdpr', receivedAt: noon('2026-02-07') }, dueDate: '2026-03-07' },
  { name: 'gdpr due Good Friday 3 Apr stays (no holiday roll in EU)', input: { regime: 'gdpr', receivedAt: noon('2026-03-03'), jurisdiction: 'DE' }, dueDate: '2026-04-03' },

  // ---- UK GDPR: same months, then next working day (weekends + bank holidays of the nation) ----
  { name: 'uk due Saturday 7 Mar -> Monday 9 Mar', input: { regime: 'uk_gdpr', receivedAt: noon('2026-02-07') }, dueDate: '2026-03-09' },
  { name: 'uk due Sunday 8 Mar -> Monday 9 Mar', input: { regime: 'uk_gdpr', receivedAt: noon('2026-02-08') }, dueDate: '2026-03-09' },
  { name: 'uk 31 Jan -> Sat 28 Feb -> Mon 2 Mar', input: { regime: 'uk_gdpr', receivedAt: noon('2026-01-31') }, dueDate: '2026-03-02' },
  { name: 'uk Christmas Fri 25 Dec, Sat, Sun, substitute Boxing Day Mon 28 -> Tue 29 Dec', input: { regime: 'uk_gdpr', receivedAt: noon('2026-11-25') }, dueDate: '2026-12-29' },
  { name: 'uk Easter Monday 6 Apr (England) -> Tue 7 Apr', input: { regime: 'uk_gdpr', receivedAt: noon('2026-03-06'), jurisdiction: 'GB-ENG' }, dueDate: '2026-04-07' },
  { name: 'uk Easter Monday with jurisdiction "UK" treated as England -> Tue 7 Apr', input: { regime: 'uk_gdpr', receivedAt: noon('2026-03-06'), jurisdiction: 'UK' }, dueDate: '2026-04-07' },
  { name: 'uk Scotland has no Easter Monday holiday -> Mon 6 Apr', input: { regime: 'uk_gdpr', receivedAt: noon('2026-03-06'), jurisdiction: 'GB-SCT' }, dueDate: '2026-04-06' },
  { name: 'uk Good Friday 3 Apr, weekend, Easter Monday -> Tue 7 Apr', input: { regime: 'uk_gdpr', receivedAt: noon('2026-03-03') }, dueDate: '2026-04-07', extendedDueAt: eod('2026-06-03') },
  { name: 'uk Scotland St Andrew\'s Day Mon 30 Nov -> Tue 1 Dec', input: { regime: 'uk_gdpr', receivedAt: noon('2026-10-30'), jurisdiction: 'GB-SCT' }, dueDate: '2026-12-01' },
  { name: 'uk England ignores St Andrew\'s Day -> Mon 30 Nov', input: { regime: 'uk_gdpr', receivedAt: noon('2026-10-30'), jurisdiction: 'GB-ENG' }, dueDate: '2026-11-30' },
  { name: 'uk Northern Ireland St Patrick\'s Day Tue 17 Mar -> Wed 18 Mar', input: { regime: 'uk_gdpr', receivedAt: noon('2026-02-17'), jurisdiction: 'GB-NIR' }, dueDate: '2026-03-18' },
  { name: 'uk default (England) ignores St Patrick\'s Day -> Tue 17 Mar', input: { regime: 'uk_gdpr', receivedAt: noon('2026-02-17') }, dueDate: '2026-03-17' },
  { name: 'uk Wales summer bank holiday Mon 31 Aug -> Tue 1 Sep', input: { regime: 'uk_gdpr', receivedAt: noon('2026-07-31'), jurisdiction: 'GB-WLS' }, dueDate: '2026-09-01' },
  { name: 'uk Scotland summer holiday is 3 Aug, so Mon 31 Aug stands', input: { regime: 'uk_gdpr', receivedAt: noon('2026-07-31'), jurisdiction: 'GB-SCT' }, dueDate: '2026-08-31' },
  { name: 'uk Scotland Sat 2 Jan 2027, Sun, substitute 2 January Mon 4 -> Tue 5 Jan', input: { regime: 'uk_gdpr', receivedAt: noon('2026-12-02'), jurisdiction: 'GB-SCT' }, dueDate: '2027-01-05' },
  { name: 'uk England Sat 2 Jan 2027 -> Mon 4 Jan', input: { regime: 'uk_gdpr', receivedAt: noon('2026-12-02'), jurisdiction: 'GB-ENG' }, dueDate: '2027-01-04' },
  { name: 'uk extension 3 months lands on Early May bank holiday Mon 4 May -> Tue 5 May', input: { regime: 'uk_gdpr', receivedAt: noon('2026-02-04') }, dueDate: '2026-03-04', extendedDueAt: eod('2026-05-05'), acknowledgeBy: null },

  // ---- CCPA: 45 calendar days, acknowledge in 10 business days (Mon-Fri from the day after) ----
  { name: 'ccpa received Fri 2 Jan: ack Fri 16 Jan, due 16 Feb, extended 2 Apr', input: { regime: 'ccpa', receivedAt: noon('2026-01-02') }, dueDate: '2026-02-16', acknowledgeBy: eod('2026-01-16'), extendedDueAt: eod('2026-04-02') },
  { name: 'ccpa received Wed 4 Mar: ack Wed 18 Mar, due 18 Apr, extended 2 Jun', input: { regime: 'ccpa', receivedAt: noon('2026-03-04') }, dueDate: '2026-04-18', acknowledgeBy: eod('2026-03-18'), extendedDueAt: eod('2026-06-02') },
  {
    name: 'ccpa received Sat 7 Mar in Los Angeles: ack Fri 20 Mar, due 21 Apr (PDT)',
    input: { regime: 'ccpa', receivedAt: new Date('2026-03-07T20:00:00Z'), timeZone: 'America/Los_Angeles' },
    dueDate: '2026-04-21',
    dueAt: '2026-04-22T06:59:59.999Z',
    acknowledgeBy: '2026-03-21T06:59:59.999Z'
  },
  {
    name: 'ccpa 2026-01-01T02:00Z is Wed 31 Dec 2025 in Los Angeles: ack Wed 14 Jan, due 14 Feb (PST), extended 31 Mar (PDT)',
    input: { regime: 'ccpa', receivedAt: new Date('2026-01-01T02:00:00Z'), timeZone: 'America/Los_Angeles' },
    dueDate: '2026-02-14',
    dueAt: '2026-02-15T07:59:59.999Z',
    acknowledgeBy: '2026-01-15T07:59:59.999Z',
    extendedDueAt: '2026-04-01T06:59:59.999Z'
  },

  // ---- LGPD: 15 days, no extension ----
  { name: 'lgpd 3 Mar -> 18 Mar', input: { regime: 'lgpd', receivedAt: noon('2026-03-03') }, dueDate: '2026-03-18', extendedDueAt: null, acknowledgeBy: null },
  { name: 'lgpd 20 Feb -> 7 Mar (across short February)', input: { regime: 'lgpd', receivedAt: noon('2026-02-20') }, dueDate: '2026-03-07', extendedDueAt: null },
  {
    name: 'lgpd 20 Dec in Sao Paulo -> 4 Jan 2027 (UTC-3)',
    input: { regime: 'lgpd', receivedAt: new Date('2026-12-20T12:00:00Z'), timeZone: 'America/Sao_Paulo' },
    dueDate: '2027-01-04',
    dueAt: '2027-01-05T02:59:59.999Z',
    extendedDueAt: null
  },

  // ---- Swiss FADP: 30 days, no fixed extension ----
  {
    name: 'fadp 15 Feb in Zurich -> 17 Mar (CET)',
    input: { regime: 'fadp', receivedAt: new Date('2026-02-15T10:00:00Z'), timeZone: 'Europe/Zurich' },
    dueDate: '2026-03-17',
    dueAt: '2026-03-17T22:59:59.999Z',
    extendedDueAt: null
  },
  {
    name: 'fadp 2026-07-14T23:30Z is 15 Jul in Zurich -> 14 Aug (CEST)',
    input: { regime: 'fadp', receivedAt: new Date('2026-07-14T23:30:00Z'), timeZone: 'Europe/Zurich' },
    dueDate: '2026-08-14',
    dueAt: '2026-08-14T21:59:59.999Z'
  },
  {
    name: 'fadp due on the DST switch day 29 Mar ends in CEST',
    input: { regime: 'fadp', receivedAt: new Date('2026-02-27T12:00:00Z'), timeZone: 'Europe/Zurich' },
    dueDate: '2026-03-29',
    dueAt: '2026-03-29T21:59:59.999Z'
  },

  // ---- PIPEDA: 30 days, extension to 60 ----
  { name: 'pipeda 15 Jan -> 14 Feb, extended 16 Mar', input: { regime: 'pipeda', receivedAt: noon('2026-01-15') }, dueDate: '2026-02-14', extendedDueAt: eod('2026-03-16'), acknowledgeBy: null },
  {
    name: 'pipeda 2026-11-21T03:00Z is 20 Nov in Toronto -> 20 Dec, extended 19 Jan 2027 (EST)',
    input: { regime: 'pipeda', receivedAt: new Date('2026-11-21T03:00:00Z'), timeZone: 'America/Toronto' },
    dueDate: '2026-12-20',
    dueAt: '2026-12-21T04:59:59.999Z',
    extendedDueAt: '2027-01-20T04:59:59.999Z'
  },

  // ---- PIPL: configurable days (default 30), no extension ----
  {
    name: 'pipl default 30 days: local midnight 15 Jan in Shanghai -> 14 Feb',
    input: { regime: 'pipl', receivedAt: new Date('2026-01-14T16:00:00Z'), timeZone: 'Asia/Shanghai' },
    dueDate: '2026-02-14',
    dueAt: '2026-02-14T15:59:59.999Z',
    extendedDueAt: null
  },
  { name: 'pipl piplDays 15: 15 Jan -> 30 Jan', input: { regime: 'pipl', receivedAt: noon('2026-01-15') }, options: { piplDays: 15 }, dueDate: '2026-01-30', extendedDueAt: null },
  { name: 'pipl piplDays 45: 1 Dec -> 15 Jan 2027', input: { regime: 'pipl', receivedAt: noon('2026-12-01') }, options: { piplDays: 45 }, dueDate: '2027-01-15', acknowledgeBy: null },

  // ---- time-zone edges ----
  {
    name: 'gdpr 2026-03-31T23:30Z is 1 Apr in Tokyo -> 1 May local',
    input: { regime: 'gdpr', receivedAt: new Date('2026-03-31T23:30:00Z'), timeZone: 'Asia/Tokyo' },
    dueDate: '2026-05-01',
    dueAt: '2026-05-01T14:59:59.999Z',
    extendedDueAt: '2026-07-01T14:59:59.999Z'
  },
  {
    name: 'gdpr same instant with default UTC is 31 Mar -> 30 Apr, ends 23:59:59.999Z',
    input: { regime: 'gdpr', receivedAt: new Date('2026-03-31T23:30:00Z') },
    dueDate: '2026-04-30',
    dueAt: '2026-04-30T23:59:59.999Z'
  },
  {
    name: 'gdpr 2026-01-01T02:00Z is 31 Dec 2025 in Los Angeles -> 31 Jan 2026',
    input: { regime: 'gdpr', receivedAt: new Date('2026-01-01T02:00:00Z'), timeZone: 'America/Los_Angeles' },
    dueDate: '2026-01-31',
    dueAt: '2026-02-01T07:59:59.999Z'
  },
  {
    name: 'uk London: due Mon 20 Apr during BST ends 22:59:59.999Z',
    input: { regime: 'uk_gdpr', receivedAt: new Date('2026-03-20T10:00:00Z'), timeZone: 'Europe/London' },
    dueDate: '2026-04-20',
    dueAt: '2026-04-20T22:59:59.999Z'
  },
  {
    name: 'gdpr London: 2026-09-30T23:30Z is 1 Oct (BST) -> Sun 1 Nov (GMT)',
    input: { regime: 'gdpr', receivedAt: new Date('2026-09-30T23:30:00Z'), timeZone: 'Europe/London' },
    dueDate: '2026-11-01',
    dueAt: '2026-11-01T23:59:59.999Z'
  },
  {
    name: 'uk London: same receipt, Sun 1 Nov -> Mon 2 Nov (GMT); extension New Year Fri 1 Jan 2027 -> Mon 4 Jan',
    input: { regime: 'uk_gdpr', receivedAt: new Date('2026-09-30T23:30:00Z'), timeZone: 'Europe/London' },
    dueDate: '2026-11-02',
    dueAt: '2026-11-02T23:59:59.999Z',
    extendedDueAt: '2027-01-04T23:59:59.999Z'
  }
]

t.test('deadline table', async t => {
  for (const c of cases) {
    const d = computeDeadline(c.input, c.options)
    t.equal(d.dueDate, c.dueDate, `${c.name}: dueDate`)
    t.equal(d.dueAt.toISOString(), c.dueAt ?? eod(c.dueDate), `${c.name}: dueAt`)
    t.equal(d.timeZone, c.input.timeZone ?? 'UTC', `${c.name}: timeZone`)
    if (c.acknowledgeBy !== undefined) t.equal(d.acknowledgeBy?.toISOString() ?? null, c.acknowledgeBy, `${c.name}: acknowledgeBy`)
    if (c.extendedDueAt !== undefined) t.equal(d.extendedDueAt?.toISOString() ?? null, c.extendedDueAt, `${c.name}: extendedDueAt`)
  }
})

t.test('table covers every regime at least twice', async t => {
  for (const regime of REGIMES) {
    t.ok(cases.filter(c => c.input.regime === regime).length >= 2, `${regime} has at least two cases`)
  }
  t.ok(cases.length >= 30, `${cases.length} cases`)
})

t.test('shape per regime: acknowledgement only for CCPA, extension where the law sets one', async t => {
  const expectations = { gdpr: [false, true], uk_gdpr: [false, true], ccpa: [true, true], lgpd: [false, false], fadp: [false, false], pipeda: [false, true], pipl: [false, false] } as const
  for (const regime of REGIMES) {
    const d = computeDeadline({ regime, receivedAt: noon('2026-06-10') })
    const [ack, ext] = expectations[regime]
    t.equal(d.acknowledgeBy !== null, ack, `${regime}: acknowledgeBy presence`)
    t.equal(d.extendedDueAt !== null, ext, `${regime}: extendedDueAt presence`)
    t.ok(d.rule.length > 0, `${regime}: has rule text`)
  }
})

t.test('without options: the statutory periods, counted by hand from 10 June 2026 (PIPL: 30 days by default)', async t => {
  const due: Record<typeof REGIMES[number], string> = {
    gdpr: '2026-07-10', uk_gdpr: '2026-07-10', ccpa: '2026-07-25', lgpd: '2026-06-25', fadp: '2026-07-10', pipeda: '2026-07-10', pipl: '2026-07-10'
  }
  for (const regime of REGIMES) {
    t.equal(computeDeadline({ regime, receivedAt: noon('2026-06-10') }).dueAt.toISOString(), eod(due[regime]), `${regime}: due ${due[regime]}`)
  }
  t.equal(computeDeadline({ regime: 'pipl', receivedAt: noon('2026-06-10') }, { piplDays: 15 }).dueAt.toISOString(), eod('2026-06-25'), 'pipl: the configured days when given')
})

t.test('rule text cites the law', async t => {
  t.match(computeDeadline({ regime: 'gdpr', receivedAt: noon('2026-03-03') }).rule, /Art 12\(3\)/, 'gdpr cites Art 12(3)')
  t.match(computeDeadline({ regime: 'uk_gdpr', receivedAt: noon('2026-03-03') }).rule, /Art 12\(3\)/, 'uk_gdpr cites Art 12(3)')
  t.match(computeDeadline({ regime: 'ccpa', receivedAt: noon('2026-03-03') }).rule, /7021/, 'ccpa cites §7021')
  t.match(computeDeadline({ regime: 'lgpd', receivedAt: noon('2026-03-03') }).rule, /Art 19/, 'lgpd cites Art 19')
  t.match(computeDeadline({ regime: 'pipeda', receivedAt: noon('2026-03-03') }).rule, /s\.8/, 'pipeda cites s.8')
  t.match(computeDeadline({ regime: 'pipl', receivedAt: noon('2026-03-03') }).rule, /30 days/, 'pipl default names 30 days')
  t.match(computeDeadline({ regime: 'pipl', receivedAt: noon('2026-03-03') }, { piplDays: 15 }).rule, /15 days/, 'pipl custom names 15 days')
  t.equal(Object.keys(DEADLINE_RULES).sort().join(), [...REGIMES].sort().join(), 'one table entry per regime')
})

t.test('time zones', async t => {
  t.equal(isValidTimeZone('Europe/London'), true, 'Europe/London is valid')
  t.equal(isValidTimeZone('UTC'), true, 'UTC is valid')
  t.equal(isValidTimeZone('America/Argentina/Buenos_Aires'), true, 'three-part zone is valid')
  t.equal(isValidTimeZone('Mars/Olympus_Mons'), false, 'made-up zone is invalid')
  t.equal(isValidTimeZone(''), false, 'empty string is invalid')
  t.throws(() => computeDeadline({ regime: 'gdpr', receivedAt: noon('2026-03-03'), timeZone: 'Mars/Olympus_Mons' }),
    /Unknown time zone.*Mars\/Olympus_Mons/, 'invalid time zone throws a clear error')
})

t.test('bad inputs', async t => {
  t.throws(() => computeDeadline({ regime: 'gdpr', receivedAt: new Date('nope') }), /receivedAt/, 'invalid Date throws')
  t.throws(() => computeDeadline({ regime: 'pipl', receivedAt: noon('2026-03-03') }, { piplDays: 0 }), /positive integer/, 'piplDays 0 throws')
  t.throws(() => computeDeadline({ regime: 'nope' as never, receivedAt: noon('2026-03-03') }), /Unknown regime/, 'unknown regime throws')
})

t.test('a stopped clock (waiting on identity): only UK GDPR counts the days, which move the date before it rolls', async t => {
  t.strictSame(REGIMES.filter((r) => DEADLINE_RULES[r].clockStopsForIdentity), ['uk_gdpr'], 'UK GDPR Art 12A alone')
  const received = noon('2026-06-01') // Mon; due Wed 1 Jul
  t.equal(computeDeadline({ regime: 'uk_gdpr', receivedAt: received, pausedDays: 6 }).dueDate, '2026-07-07', '+6 days: Tue 7 Jul')
  t.equal(computeDeadline({ regime: 'uk_gdpr', receivedAt: received, pausedDays: 3 }).dueDate, '2026-07-06', '+3 days lands on Sat 4 Jul: Mon 6 Jul')
  t.equal(computeDeadline({ regime: 'uk_gdpr', receivedAt: received, pausedDays: 6 }).extendedDueAt?.toISOString(), eod('2026-09-07'), 'the extended date moves too')
  t.equal(computeDeadline({ regime: 'gdpr', receivedAt: received, pausedDays: 6 }).dueDate, '2026-07-01', 'GDPR: the clock ran on')
  t.throws(() => computeDeadline({ regime: 'uk_gdpr', receivedAt: received, pausedDays: -1 }), /whole number/)
  t.equal(wholeDaysBetween(new Date('2026-06-03T09:00:00Z'), new Date('2026-06-09T08:59:59Z')), 5, 'whole 24-hour days, rounded down')
  t.equal(wholeDaysBetween(new Date('2026-06-03T09:00:00Z'), new Date('2026-06-09T09:00:00Z')), 6)
})
