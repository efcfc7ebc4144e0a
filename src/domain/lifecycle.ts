/**
 * The request lifecycle: one table of legal transitions, enforced in one place
 * (the requests repository refuses any move that is not listed here).
 *
 *   received → verifying → ready → in_progress → completed | partially_completed | failed
 *   ready → awaiting_approval → ready (approved; planned at once) where policy holds the type for approval
 *   ready | in_progress → awaiting_controller → in_progress | completed | … | rejected: a part of the
 *     person's data belongs to a managed customer account, whose administrator instructs or declines
 *     (services/accounts-service.ts); the company's own part, if any, runs meanwhile
 *   received | verifying | ready | awaiting_approval → rejected, on a coded legal ground (refusal-grounds.ts)
 *   any open state → cancelled | on_hold;  on_hold → the state it was held from, or rejected
 *   failed | partially_completed → in_progress when an operator retries a task
 *
 * `verifying` is the wait on the person after the service sent them a code and link (POST
 * /v1/requests/:id/verification): confirmed → ready; past VERIFICATION_TIMEOUT_DAYS → rejected
 * (identity_not_established). Its clock is paused meanwhile where the regime allows (deadlines.ts).
 *
 * Restriction of processing is a state of the person's data with a lifecycle of its own (placed →
 * lifted), carried by the request rather than by its status: `restriction_placed_at` once a system
 * marked the data, then the lift (POST /v1/requests/:id/restriction/lift, after the person was told,
 * GDPR Art 18(3)), recorded on the request with its unrestrict tasks. A lift does not reopen the
 * request: it stays `completed`, because the request was fulfilled, on time, and reopening it would
 * put a months-old request back among the open ones, overdue by its original deadline, in warnings,
 * webhooks and metrics. The unrestrict tasks show the lift's progress; a failed one is retried or
 * skipped like any other, and finalizing them leaves a completed request as it is.
 */
export const REQUEST_STATUSES = [
  'received', 'verifying', 'ready', 'awaiting_approval', 'awaiting_controller', 'in_progress', 'on_hold',
  'completed', 'partially_completed', 'failed', 'rejected', 'cancelled'
] as const
export type RequestStatus = typeof REQUEST_STATUSES[number]

export const TERMINAL_STATUSES: readonly RequestStatus[] = ['completed', 'partially_completed', 'failed', 'rejected', 'cancelled']
export const OPEN_STATUSES: readonly RequestStatus[] = REQUEST_STATUSES.filter((s) => !TERMINAL_STATUSES.includes(s))

const TRANSITIONS: Record<RequestStatus, readonly RequestStatus[]> = {
  received: ['verifying', 'ready', 'rejected', 'cancelled', 'on_hold'],
  verifying: ['ready', 'rejected', 'cancelled', 'on_hold'],
  ready: ['in_progress', 'awaiting_approval', 'awaiting_controller', 'rejected', 'cancelled', 'on_hold'],
  awaiting_approval: ['ready', 'rejected', 'cancelled', 'on_hold'],
  awaiting_controller: ['in_progress', 'completed', 'partially_completed', 'failed', 'rejected', 'cancelled', 'on_hold'],
  in_progress: ['completed', 'partially_completed', 'failed', 'awaiting_controller', 'cancelled', 'on_hold'],
  // Leaving on_hold is checked against the state it was held from (see canTransition).
  on_hold: ['received', 'verifying', 'ready', 'awaiting_approval', 'awaiting_controller', 'in_progress', 'rejected', 'cancelled'],
  completed: [],
  // Closed, but an operator may retry the failed tasks, which reopens the request.
  partially_completed: ['in_progress'],
  failed: ['in_progress'],
  rejected: [],
  cancelled: []
}

export function isTerminal (status: RequestStatus): boolean {
  return TERMINAL_STATUSES.includes(status)
}

/** The statuses a request may move to `to` from. */
export function allowedFrom (to: RequestStatus): RequestStatus[] {
  return REQUEST_STATUSES.filter((from) => TRANSITIONS[from].includes(to))
}

/**
 * Whether `from → to` is legal. A held request may only resume to the state it was held from
 * (`heldFrom`), or be closed as rejected or cancelled.
 */
export function canTransition (from: RequestStatus, to: RequestStatus, heldFrom?: RequestStatus | null): boolean {
  if (!TRANSITIONS[from].includes(to)) return false
  if (from === 'on_hold' && to !== 'rejected' && to !== 'cancelled') return heldFrom === to
  return true
}
