import { DateTime, Duration } from 'luxon'
import { Type, type Static } from 'typebox'
import { ConnectorError, ConnectorErrorCodes, type RetentionSweepResult } from '../types.js'
import { IDENT_PATTERN, TABLE_PATTERN, quoteColumn, quoteTable } from './identifiers.js'
import { toConnectorError } from './errors.js'
import type { SqlClient } from './sql-client.js'

const closed = { additionalProperties: false } as const
const Ident = Type.String({ pattern: IDENT_PATTERN })

/**
 * One retention rule: rows of `table` whose `column` (a timestamp) is older than the allowed age
 * are deleted, or have the listed columns set to null. The age is `max_age_days` or an ISO-8601
 * duration in `max_age` (`P1M`: one calendar month, counted month-correctly in UTC).
 */
export const RetentionRuleSchema = Type.Object({
  table: Type.String({ pattern: TABLE_PATTERN }),
  column: Ident,
  max_age_days: Type.Optional(Type.Integer({ minimum: 1 })),
  max_age: Type.Optional(Type.String({ pattern: '^P', description: 'ISO-8601 duration, e.g. P1M, P90D' })),
  action: Type.Union([
    Type.Literal('delete'),
    Type.Object({ null_columns: Type.Array(Ident, { minItems: 1 }) }, closed)
  ])
}, closed)
export type RetentionRule = Static<typeof RetentionRuleSchema>

function configError (message: string): ConnectorError {
  return new ConnectorError(ConnectorErrorCodes.Config, message, { retryable: false })
}

/** The rule's age as a luxon Duration; exactly one of max_age_days / max_age must be given. */
export function ruleAge (rule: RetentionRule, at = 'retention'): Duration {
  if ((rule.max_age_days === undefined) === (rule.max_age === undefined)) {
    throw configError(`${at}: give exactly one of max_age_days or max_age`)
  }
  if (rule.max_age_days !== undefined) return Duration.fromObject({ days: rule.max_age_days })
  const d = Duration.fromISO(rule.max_age!)
  if (!d.isValid || d.toMillis() <= 0) throw configError(`${at}/max_age: "${rule.max_age}" is not a positive ISO-8601 duration`)
  return d
}

export function checkRetention (rules: readonly RetentionRule[]): void {
  rules.forEach((rule, i) => {
    ruleAge(rule, `retention/${i}`)
    if (rule.action !== 'delete' && rule.action.null_columns.includes(rule.column)) {
      throw configError(`retention/${i}/action: cannot null the age column "${rule.column}" itself`)
    }
  })
}

/** Rows strictly older than this instant are expired: `now` minus the age, in calendar terms (UTC). */
export function cutoffFor (rule: RetentionRule, now: Date): Date {
  return DateTime.fromJSDate(now, { zone: 'utc' }).minus(ruleAge(rule)).toJSDate()
}

/**
 * Applies every rule as of `now`, one statement per rule. A dry run counts the same rows it would
 * touch. For null_columns, only rows that still hold a value in one of them count, so a second
 * sweep reports 0.
 */
export async function sweepRetention (db: SqlClient, rules: readonly RetentionRule[], opts: { dryRun: boolean, now: Date, signal: AbortSignal }): Promise<RetentionSweepResult> {
  const tables: RetentionSweepResult['tables'] = {}
  for (const rule of rules) {
    const cutoff = cutoffFor(rule, opts.now)
    const table = quoteTable(rule.table)
    const column = quoteColumn(rule.column)
    const nullCols = rule.action === 'delete' ? [] : rule.action.null_columns.map(quoteColumn)
    const where = `${column} < $1${nullCols.length > 0 ? ` and (${nullCols.map((c) => `${c} is not null`).join(' or ')})` : ''}`
    const text = opts.dryRun
      ? `select count(*)::int as n from ${table} where ${where}`
      : rule.action === 'delete'
        ? `delete from ${table} where ${where}`
        : `update ${table} set ${nullCols.map((c) => `${c} = null`).join(', ')} where ${where}`
    let rows: number
    try {
      const res = await db.query<{ n: number }>(text, [cutoff.toISOString()], { signal: opts.signal })
      rows = opts.dryRun ? Number(res.rows[0]?.n ?? 0) : res.count
    } catch (err) {
      throw toConnectorError(err, `retention sweep of ${rule.table}`, opts.signal)
    }
    const entry = tables[rule.table]
    tables[rule.table] = {
      action: rule.action === 'delete' ? 'delete' : 'null_columns',
      rows: (entry?.rows ?? 0) + rows,
      cutoff: cutoff.toISOString()
    }
  }
  return { tables }
}
