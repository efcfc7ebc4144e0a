import { randomUUID } from 'node:crypto'
import type { DbHandle } from '../db/client.js'
import type { RequestsRepository } from '../db/repositories/requests-repository.js'
import type { TransferAttemptRow, TransferRow } from '../db/repositories/transfers-repository.js'
import { Errors, validationError } from '../errors.js'
import type { CreateTransfer, Transfer } from '../schemas/transfers.js'
import { checkDestination } from '../transfers/addresses.js'
import { matchDestination } from '../transfers/allowlist.js'
import type { TransferRunner } from '../transfers/runner.js'
import type { TransferSettings } from '../transfers/settings.js'
import type { Principal } from './requests-service.js'

/**
 * Direct transfers of a request's archive to another controller (GDPR Art 20(2), PIPL Art 45).
 * Everything that can be refused is refused here, before anything connects to the destination:
 * the allow-list, then DNS and address ranges, then the archive's readiness.
 */
export function createTransfersService (deps: {
  dbh: DbHandle
  requests: RequestsRepository
  runner: Pick<TransferRunner, 'repo' | 'enqueue'>
  settings: TransferSettings
}) {
  const { repo } = deps.runner
  const { settings } = deps

  async function requireRequest (requestId: string): Promise<void> {
    if (!await deps.requests.findById(requestId)) throw new Errors.RequestNotFound(requestId)
  }

  async function withAttempts (rows: TransferRow[]): Promise<Transfer[]> {
    const attempts = await repo.attemptsOf(rows.map((r) => r.id))
    return rows.map((row) => toResource(row, attempts.filter((a) => a.transferId === row.id)))
  }

  return {
    async create (requestId: string, input: CreateTransfer, principal: Principal): Promise<Transfer> {
      await requireRequest(requestId)
      const url = parseDestination(input.destination)
      if (!matchDestination(settings.allowList, url)) throw new Errors.TransferDestinationNotAllowed(`${url.origin} is not in TRANSFER_ALLOWLIST`)
      if (input.authorization && !settings.secretBox) throw new Errors.TransferAuthNotConfigured()
      const checked = await checkDestination(settings.allowList, url, settings.resolve, 'TRANSFER_ALLOWLIST')
      if (checked.status === 'not_allowed' || checked.status === 'refused') throw new Errors.TransferDestinationNotAllowed(checked.message)
      if (checked.status !== 'ok') throw new Errors.TransferDestinationUnresolvable(url.hostname)

      const id = randomUUID()
      const row = await deps.dbh.transaction(async (tx) => {
        if (!await repo.archiveReady(requestId, tx)) throw new Errors.ArchiveNotReady()
        const inserted = await repo.insert({
          id,
          requestId,
          destination: url.href,
          authHeaderSealed: input.authorization ? settings.secretBox!.seal(input.authorization, id) : null,
          maxAttempts: settings.maxAttempts,
          notes: input.notes ?? null,
          createdBy: principal.name
        }, tx)
        await deps.requests.recordEvent(requestId, principal.name, 'transfer_created', null, {
          transfer_id: id, destination: url.origin, has_authorization: input.authorization !== undefined
        }, tx)
        await deps.runner.enqueue(id, undefined, tx)
        return inserted
      })
      return toResource(row, [])
    },

    async list (requestId: string): Promise<Transfer[]> {
      await requireRequest(requestId)
      return withAttempts(await repo.forRequest(requestId))
    },

    async get (requestId: string, transferId: string): Promise<Transfer> {
      const row = await repo.get(transferId)
      if (!row || row.requestId !== requestId) throw new Errors.TransferNotFound(transferId)
      const [transfer] = await withAttempts([row])
      return transfer!
    }
  }
}

/** An absolute http(s) URL without credentials or fragment; the schema has checked the scheme. */
function parseDestination (destination: string): URL {
  let url: URL
  try {
    url = new URL(destination)
  } catch {
    throw validationError([{ in: 'body', field: '/destination', message: 'must be an absolute URL' }])
  }
  if (url.username || url.password) {
    throw validationError([{ in: 'body', field: '/destination', message: 'must not carry credentials: send them as authorization' }])
  }
  if (url.hash) throw validationError([{ in: 'body', field: '/destination', message: 'must not have a fragment' }])
  return url
}

const iso = (d: Date | null) => (d ? d.toISOString() : null)

function toResource (row: TransferRow, attempts: TransferAttemptRow[]): Transfer {
  const self = `/v1/requests/${row.requestId}/transfers/${row.id}`
  return {
    id: row.id,
    request_id: row.requestId,
    destination: row.destination,
    has_authorization: row.authHeaderSealed !== null,
    status: row.status,
    attempts: row.attempts,
    max_attempts: row.maxAttempts,
    next_attempt_at: iso(row.nextAttemptAt),
    response_status: row.responseStatus,
    response_excerpt: row.responseExcerpt,
    delivered_sha256: row.deliveredSha256,
    last_error_code: row.lastErrorCode,
    last_error_message: row.lastErrorMessage,
    notes: row.notes,
    created_by: row.createdBy,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
    delivered_at: iso(row.deliveredAt),
    finished_at: iso(row.finishedAt),
    attempt_log: attempts.map((a) => ({
      attempt: a.attempt,
      started_at: a.startedAt.toISOString(),
      ended_at: iso(a.endedAt),
      outcome: a.outcome,
      response_status: a.responseStatus,
      response_excerpt: a.responseExcerpt,
      error_code: a.errorCode,
      bytes_sent: a.bytesSent
    })),
    links: { self, request: `/v1/requests/${row.requestId}` }
  }
}
