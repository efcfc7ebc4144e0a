import type { CallbackAttemptRow, CallbackDeliveryRow, CallbacksRepository } from '../db/repositories/callbacks-repository.js'
import type { RequestsRepository } from '../db/repositories/requests-repository.js'
import { Errors } from '../errors.js'
import type { CallbackDelivery, CallbackListQuery } from '../schemas/callbacks.js'
import { decodeCursor, encodeCursor } from './request-resource.js'

/**
 * A request's status callbacks, as the API shows them: every delivery (one per status change)
 * with every attempt, and redelivery of one, under the same delivery id.
 */
export function createCallbacksService (deps: { requests: RequestsRepository, callbacks: CallbacksRepository }) {
  const { callbacks } = deps

  async function withAttempts (rows: CallbackDeliveryRow[]): Promise<CallbackDelivery[]> {
    const attempts = await callbacks.attemptsOf(rows.map((r) => r.id))
    return rows.map((row) => toResource(row, attempts.filter((a) => a.deliveryId === row.id)))
  }

  return {
    /** Oldest first, page by page. */
    async list (requestId: string, q: CallbackListQuery): Promise<{ data: CallbackDelivery[], next_cursor: string | null }> {
      if (!await deps.requests.findById(requestId)) throw new Errors.RequestNotFound(requestId)
      const rows = await callbacks.page(requestId, { ...(q.cursor ? { afterSeq: decodeCursor(q.cursor) } : {}), limit: q.limit + 1 })
      const page = rows.slice(0, q.limit)
      const last = page[page.length - 1]
      return { data: await withAttempts(page), next_cursor: rows.length > q.limit && last ? encodeCursor(last.seq) : null }
    },

    /**
     * Sends a delivery again, with the same id (the receiver may drop it as a repeat): due now, with
     * a fresh round of CALLBACK_MAX_ATTEMPTS. Refused while it is being sent, and once the request's
     * callback_url was removed with its other personal data.
     */
    async redeliver (requestId: string, deliveryId: string): Promise<CallbackDelivery> {
      const request = await deps.requests.findById(requestId)
      if (!request) throw new Errors.RequestNotFound(requestId)
      if (request.callbackUrl === null) throw new Errors.CallbackUrlRemoved()
      const result = await callbacks.redeliver(requestId, deliveryId)
      if (result.status === 'not_found') throw new Errors.CallbackDeliveryNotFound(deliveryId)
      if (result.status === 'sending') throw new Errors.CallbackDeliverySending()
      const [delivery] = await withAttempts([result.row])
      return delivery!
    }
  }
}

export type CallbacksService = ReturnType<typeof createCallbacksService>

const iso = (d: Date | null) => (d ? d.toISOString() : null)

function toResource (row: CallbackDeliveryRow, attempts: CallbackAttemptRow[]): CallbackDelivery {
  return {
    id: row.id,
    request_id: row.requestId,
    event: row.event,
    request_status: row.toStatus,
    previous_request_status: row.fromStatus,
    at: row.at.toISOString(),
    status: row.status,
    attempts: row.attempts,
    next_attempt_at: row.status === 'pending' ? row.nextAttemptAt.toISOString() : null,
    response_status: row.responseStatus,
    last_error_code: row.lastErrorCode,
    last_error_message: row.lastErrorMessage,
    created_at: row.createdAt.toISOString(),
    delivered_at: iso(row.deliveredAt),
    attempt_log: attempts.map((a) => ({
      attempt: a.attempt,
      started_at: a.startedAt.toISOString(),
      ended_at: a.endedAt.toISOString(),
      outcome: a.outcome as 'delivered' | 'retry' | 'failed',
      response_status: a.responseStatus,
      error_code: a.errorCode,
      error_message: a.errorMessage
    })),
    links: { redeliver: `/v1/requests/${row.requestId}/callbacks/${row.id}/redeliver`, request: `/v1/requests/${row.requestId}` }
  }
}
