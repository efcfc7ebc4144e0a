import { createHash, createHmac, randomUUID } from 'node:crypto'
import { CompactSign } from 'jose'
import { stringify } from 'safe-stable-stringify'
import type { Config } from '../config.js'
import type { ConnectorRegistry } from '../connectors/registry.js'
import type { DbHandle } from '../db/client.js'
import { createReceiptsRepository, type ReceiptsRepository } from '../db/repositories/receipts-repository.js'
import type { RequestRow } from '../db/repositories/requests-repository.js'
import type { StoredSubject } from '../db/schema.js'
import type { TaskRow as ReceiptTask } from '../db/repositories/tasks-repository.js'
import { Errors } from '../errors.js'
import { backupRetentionDays, erasedSomething, keptUntil } from '../backups/policy.js'
import type { ErasureReceiptPayload } from '../schemas/receipts.js'

type ReceiptVerification = NonNullable<ErasureReceiptPayload['connectors'][number]['verification']>
import type { Keyring } from './keys.js'
import { JobErrors } from '../errors.js'

/**
 * Signed erasure receipts. For an erasure request that closed completed or partially_completed, the
 * receipt says, per system, what was done and when (outcomes per stream: erased counts, not found,
 * deferred with the system's reference, retained with the reason), until when that system's backups
 * can still hold the data (kept beyond use until then), and which configured systems the request did
 * not reach. The person's identifiers appear only as HMAC-SHA256 under a service secret: whoever
 * holds the secret and the person's e-mail can check the receipt is about them; the receipt alone
 * discloses nothing, not even to a dictionary of e-mail addresses.
 *
 * Signed as a compact JWS (EdDSA over Ed25519) with the key published at /.well-known/jwks.json.
 * Issued once per closing and stored: the same request always answers with the same receipt.
 */

export const RECEIPT_TYPE = 'dsr-erasure-receipt+json'
export const JWKS_PATH = '/.well-known/jwks.json'
const CLOSED = ['completed', 'partially_completed'] as const
const HMAC_INPUT = 'HMAC-SHA256(secret, "<kind>:<value>") over the identifier as the service stored it ' +
  '(e-mail trimmed and lower-cased, phone as + and digits); for external ids the kind is external_id:<system>'

export interface ReceiptDeps {
  dbh: DbHandle
  config: Pick<Config, 'BACKUP_RETENTION_DAYS'>
  registry: ConnectorRegistry
  keyring: Pick<Keyring, 'signing' | 'hmac'>
}

export interface IssuedReceipt {
  receipt: ErasureReceiptPayload
  jws: string
  kid: string
  payload_sha256: string
}

/** The person's identifiers as (kind, value) pairs, in a stable order. */
export function identifierPairs (subject: StoredSubject): Array<[string, string]> {
  const pairs: Array<[string, string]> = []
  for (const kind of ['email', 'phone', 'customer_id', 'account_id', 'email_sha256', 'phone_sha256'] as const) {
    const value = subject[kind]
    if (typeof value === 'string' && value !== '') pairs.push([kind, value])
  }
  for (const ext of subject.external_ids ?? []) pairs.push([`external_id:${ext.system}`, ext.id])
  return pairs
}

export function identifierHmac (secret: string, kind: string, value: string): string {
  return createHmac('sha256', secret).update(`${kind}:${value}`, 'utf8').digest('hex')
}

const iso = (d: Date | null) => (d ? d.toISOString() : null)
const sha256Hex = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex')

function decode (jws: string): ErasureReceiptPayload {
  const payload = jws.split('.')[1] ?? ''
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as ErasureReceiptPayload
}

/**
 * The receipt of an erasure request's current closing: the stored one, or a new one, signed and
 * stored first. Two callers at once agree on one (the first stored wins). Refuses a request that is
 * not an erasure or not closed completed / partially_completed (409 DSR_RECEIPT_NOT_AVAILABLE).
 */
export async function receiptFor (deps: ReceiptDeps, requestId: string): Promise<IssuedReceipt> {
  const receipts = createReceiptsRepository(deps.dbh)
  const request = await receipts.findRequest(requestId)
  if (!request) throw new Errors.RequestNotFound(requestId)
  if (request.type !== 'erasure') throw new Errors.ReceiptNotAvailable(`a ${request.type} request has no erasure receipt`)
  if (!(CLOSED as readonly string[]).includes(request.status)) {
    throw new Errors.ReceiptNotAvailable(`the request is ${request.status}: a receipt is issued once it is completed or partially completed`)
  }
  const closedAt = await receipts.closedAt(requestId, request.status) ?? request.updatedAt
  const stored = async () => {
    const row = await receipts.storedReceipt(requestId, closedAt)
    return row ? { receipt: decode(row.jws), jws: row.jws, kid: row.kid, payload_sha256: row.payloadSha256 } : null
  }
  const existing = await stored()
  if (existing) return existing

  const receipt = await buildPayload(deps, receipts, request, closedAt)
  const payload = stringify(receipt)!
  const signing = await deps.keyring.signing()
  const jws = await new CompactSign(Buffer.from(payload, 'utf8'))
    .setProtectedHeader({ alg: 'EdDSA', kid: signing.kid, typ: RECEIPT_TYPE })
    .sign(signing.privateKey)
  await receipts.insertReceipt({
    id: receipt.receipt_id, requestId, closedAt, jws, payloadSha256: sha256Hex(payload), kid: signing.kid, issuedAt: new Date(receipt.issued_at)
  })
  const issued = await stored()
  if (!issued) throw new Error('the receipt was not stored')
  return issued
}

async function buildPayload (deps: ReceiptDeps, receipts: ReceiptsRepository, request: RequestRow, closedAt: Date): Promise<ErasureReceiptPayload> {
  const hmac = await deps.keyring.hmac()
  const taskRows = await receipts.tasksOf(request.id)
  const restore = await receipts.reErasureOrigin(request.id)

  const identifiers = identifierPairs(request.subject)
    .map(([kind, value]) => ({ kind, hmac: identifierHmac(hmac.secret, kind, value) }))
    .sort((a, b) => a.kind.localeCompare(b.kind) || a.hmac.localeCompare(b.hmac))

  const connectors = taskRows.map((t) => {
    const days = backupRetentionDays(deps.config, deps.registry, t.connectorId)
    const backups = t.status === 'succeeded' && t.finishedAt && erasedSomething(t.result)
      ? { kept_until: keptUntil(t.finishedAt, days).toISOString(), retention_days: days, treatment: 'beyond_use' as const }
      : null
    return {
      connector: t.connectorId,
      name: deps.registry.get(t.connectorId)?.displayName ?? t.connectorId,
      action: t.action,
      status: t.status as 'succeeded' | 'failed' | 'skipped',
      attempts: t.attempts,
      first_attempt_at: iso(t.startedAt),
      finished_at: iso(t.finishedAt),
      // Outcomes as the connector reported them: counts, references and its stated reasons, never values.
      outcomes: (t.result?.outcomes ?? []).map((o) => ({
        stream: o.stream,
        status: o.status as 'erased' | 'not_found' | 'deferred' | 'retained',
        ...(o.count !== undefined ? { count: o.count } : {}),
        ...(o.externalRef !== undefined ? { external_ref: o.externalRef } : {}),
        ...(o.reason !== undefined ? { reason: o.reason } : {}),
        ...(o.ground !== undefined ? { ground: o.ground } : {}),
        ...(o.reference !== undefined ? { reference: o.reference } : {}),
        ...(o.review !== undefined ? { review: o.review } : {})
      })),
      error_code: t.status === 'failed' ? (t.lastErrorCode ?? JobErrors.TaskFailed.code) : null,
      backups,
      verification: verificationOf(t, deps.registry)
    }
  })

  const reached = new Set(taskRows.map((t) => t.connectorId))
  const notInScope = [...deps.registry.values()].filter((c) => !reached.has(c.id)).map((c) => ({
    connector: c.id,
    name: c.displayName,
    reason: !c.capabilities.includes('erase')
      ? 'this system cannot erase (its connector has no erase capability): it was not part of the erasure'
      : restore
        ? `this request erased only ${restore.connectorId} again, after it was restored from a backup`
        : 'no erase task was planned for this system (it was not configured when the request was planned)'
  })).sort((a, b) => a.connector.localeCompare(b.connector))

  return {
    type: 'erasure_receipt',
    version: 1,
    receipt_id: randomUUID(),
    issuer: 'dsar-service',
    issued_at: new Date().toISOString(),
    request_id: request.id,
    regime: request.regime,
    status: request.status as 'completed' | 'partially_completed',
    received_at: request.receivedAt.toISOString(),
    completed_at: closedAt.toISOString(),
    ...(request.child
      ? {
          child: {
            statement: "This erasure was of a child's data. It was carried out without waiting for approval, in every system configured " +
              'when it was planned (by a person where no connector could erase), and was due internally before its legal deadline.',
            internal_due_at: request.internalDueAt?.toISOString() ?? null,
            on_time: request.internalDueAt === null || closedAt.getTime() <= request.internalDueAt.getTime()
          }
        }
      : {}),
    subject: { algorithm: 'HMAC-SHA256', key_id: hmac.id, input: HMAC_INPUT, identifiers },
    connectors,
    not_in_scope: notInScope,
    restore: restore
      ? { restore_id: restore.restoreId, original_request_id: restore.originalRequestId, backup_taken_at: restore.backupTakenAt.toISOString() }
      : null
  }
}

/** The check after a system's erasure, as the receipt states it: status, when, counts; never values. */
function verificationOf (t: ReceiptTask, registry: ConnectorRegistry): ReceiptVerification {
  const v = t.result?.verification
  if (v) {
    return {
      status: v.status,
      checked_at: v.checked_at,
      checks: v.checks,
      reason: v.reason ?? null,
      ...(v.retained ? { retained: v.retained } : {}),
      ...(v.residue ? { residue: v.residue } : {})
    }
  }
  const notChecked = (reason: string) => ({ status: 'not_checked' as const, checked_at: null, checks: 0, reason })
  if (t.status === 'skipped') return notChecked('the task was skipped: nothing was erased here')
  if (t.result?.manual) {
    return { status: 'not_verifiable', checked_at: null, checks: 0, reason: 'a person erased in this system: the service cannot search it again' }
  }
  const declared = registry.get(t.connectorId)?.erasureCheck
  if (declared && !declared.searchable) return { status: 'not_verifiable', checked_at: null, checks: 0, reason: declared.reason }
  return notChecked(t.status === 'failed' ? 'the erasure failed before it could be checked' : 'erased before erasures were checked')
}

/**
 * Issues the receipts of erasure requests that closed and have none for their current closing yet,
 * while they still hold their identifiers (REQUEST_IDENTIFIERS_RETENTION_DAYS redacts them later).
 * Run by the erasure_proof job; a failure on one request is logged (its id only) and the rest go on.
 */
export async function issueMissingReceipts (deps: ReceiptDeps & { log: { error (obj: object, msg?: string): void } }, limit = 200): Promise<number> {
  const due = await createReceiptsRepository(deps.dbh).dueForReceipt(limit)
  let issued = 0
  for (const id of due) {
    try {
      await receiptFor(deps, id)
      issued++
    } catch (err) {
      deps.log.error({ err, requestId: id }, 'erasure receipt could not be issued')
    }
  }
  return issued
}
