import type { TxHandle } from '../db/client.js'
import type { RequestRow } from '../db/repositories/requests-repository.js'
import type { VerificationRepository } from '../db/repositories/verification-repository.js'
import { computeDeadline, DEADLINE_RULES, wholeDaysBetween, type DeadlineOptions } from '../domain/deadlines.js'

/**
 * The request starts waiting on the person (a verification was sent): `verifying_since` is set, and
 * where the regime stops the clock meanwhile (DEADLINE_RULES clockStopsForIdentity: UK GDPR Art 12A)
 * the deadline is paused, audited as `clock_paused`. A new challenge for a request already waiting
 * changes nothing: the wait goes on from when it began.
 */
export async function startWaitIn (row: RequestRow, at: Date, actor: string, repo: VerificationRepository, tx: TxHandle): Promise<{ paused: boolean }> {
  if (row.verifyingSince !== null) return { paused: row.clockPausedSince !== null }
  const paused = DEADLINE_RULES[row.regime].clockStopsForIdentity
  await repo.updateWait(row.id, { verifyingSince: at, clockPausedSince: paused ? at : null }, paused
    ? {
        at,
        actor,
        action: 'clock_paused',
        reason: 'waiting on the person to confirm their identity',
        details: { regime: row.regime, due_at: row.dueAt.toISOString(), rule: 'UK GDPR Art 12A: the time limit does not run while awaiting the information' }
      }
    : null, tx)
  return { paused }
}

/**
 * The wait in `verifying` ends (the identity was confirmed, by the person or an operator). Where the
 * clock was paused, the deadline is recomputed from receipt with every whole day the clock stood
 * (computeDeadline `pausedDays`): the due date moves by exactly those days (then, under UK rules, to
 * the next working day if it lands on a weekend or bank holiday), audited as `clock_resumed` with
 * the dates before and after. Where it kept running, the wait is recorded (`verification_wait_ended`)
 * and the deadline stays. Returns the request as it now stands.
 */
export async function endWaitIn (
  row: RequestRow, at: Date, actor: string, options: DeadlineOptions, repo: VerificationRepository, tx: TxHandle
): Promise<RequestRow> {
  if (row.verifyingSince === null) return row
  // Confirmed another way (an operator's attestation): the code and link still out are void.
  await repo.closeOpen(row.id, 'superseded', at, tx)
  const waited = wholeDaysBetween(row.verifyingSince, at)
  if (row.clockPausedSince === null) {
    await repo.updateWait(row.id, { verifyingSince: null }, {
      at, actor, action: 'verification_wait_ended', details: { waited_days: waited, clock: 'running', due_at: row.dueAt.toISOString() }
    }, tx)
    return { ...row, verifyingSince: null }
  }
  const days = wholeDaysBetween(row.clockPausedSince, at)
  const total = row.clockPausedDays + days
  const deadline = computeDeadline({
    regime: row.regime,
    receivedAt: row.receivedAt,
    timeZone: row.timeZone,
    ...(row.jurisdiction ? { jurisdiction: row.jurisdiction } : {}),
    pausedDays: total
  }, options)
  const set = { verifyingSince: null, clockPausedSince: null, clockPausedDays: total, dueAt: deadline.dueAt, extendedDueAt: deadline.extendedDueAt }
  await repo.updateWait(row.id, set, {
    at,
    actor,
    action: 'clock_resumed',
    reason: `identity confirmed; the deadline moves by the ${days} whole day(s) the clock stood`,
    details: {
      paused_days: days,
      total_paused_days: total,
      due_at_before: row.dueAt.toISOString(),
      due_at: deadline.dueAt.toISOString(),
      extended_due_at: deadline.extendedDueAt?.toISOString() ?? null
    }
  }, tx)
  return { ...row, ...set }
}
