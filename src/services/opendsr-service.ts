import { Errors, validationError, type ErrorDetail } from '../errors.js'
import type { OpenDsrRepository } from '../db/repositories/opendsr-repository.js'
import type { CreateRequest } from '../schemas/requests.js'
import type { OpenDsrRequest } from '../schemas/opendsr.js'
import {
  FLAVOURS, IDENTITY_TABLE, openDsrStatus, REGULATIONS, SUBJECT_REQUEST_TYPES, supportedIdentities, type Flavour
} from '../domain/opendsr.js'
import type { OpenDsrSigner } from '../opendsr/signing.js'
import type { Principal, RequestsService } from './requests-service.js'

/** How far ahead of our clock a submitted_time may be before it counts as in the future (as received_at). */
const CLOCK_SKEW_MS = 60_000
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/
const SHA256 = /^[0-9a-fA-F]{64}$/

/** An OpenDSR request as it arrives: v1's has no `regulation` (GDPR). */
export type IncomingOpenDsrRequest = Omit<OpenDsrRequest, 'regulation'> & { regulation?: OpenDsrRequest['regulation'] }

/**
 * The OpenDSR facade over the service's own requests: a request is created through the requests
 * service (its deadline, duplicate policy, audit trail and fulfilment are the service's), linked to
 * the controller's subject_request_id, and read back and cancelled in OpenDSR's terms
 * (src/domain/opendsr.ts maps them). The controller is the API key: it sees its own requests only.
 */
export function createOpenDsrService (deps: {
  requests: Pick<RequestsService, 'create' | 'get' | 'transition'>
  repo: OpenDsrRepository
  signer: OpenDsrSigner | null
  /** Why a callback URL can never be called here (callbacks/settings.ts callbackUrlRefusal), or null. */
  callbackRefusal: (url: string) => string | null
  earliestReceivedAt?: (now: Date) => Date
  now?: () => Date
}) {
  const now = deps.now ?? (() => new Date())

  function signer (): OpenDsrSigner {
    if (!deps.signer) throw new Errors.OpenDsrNotConfigured()
    return deps.signer
  }

  /** The service's subject of the identities, by the one table; refused (never ignored) where no connector could match. */
  function subjectOf (identities: OpenDsrRequest['subject_identities']): CreateRequest['subject'] {
    const subject: CreateRequest['subject'] = {}
    const details: ErrorDetail[] = []
    identities.forEach((identity, i) => {
      const field = `/subject_identities/${i}`
      const target = IDENTITY_TABLE[identity.identity_type][identity.identity_format]
      const value = identity.identity_value.trim()
      if (target.to === 'refused') {
        throw new Errors.OpenDsrIdentityUnsupported(`${field}: ${identity.identity_type} as ${identity.identity_format} is not accepted: ${target.why} (GET discovery lists what is)`)
      }
      if (target.to === 'external_id') {
        (subject.external_ids ??= []).push({ system: target.system, id: value })
        return
      }
      if (target.to === 'email' && !EMAIL.test(value)) return details.push({ in: 'body', field: `${field}/identity_value`, message: 'must be an e-mail address' })
      if (target.to === 'email_sha256' && !SHA256.test(value)) return details.push({ in: 'body', field: `${field}/identity_value`, message: 'must be a SHA-256 in hex (64 characters)' })
      if (subject[target.to] !== undefined) return details.push({ in: 'body', field, message: `a second ${identity.identity_type} as ${identity.identity_format}: one per request` })
      subject[target.to] = target.to === 'email_sha256' ? value.toLowerCase() : value
    })
    if (details.length > 0) throw validationError(details)
    return subject
  }

  function check (body: IncomingOpenDsrRequest, domain: string, at: Date): void {
    const details: ErrorDetail[] = []
    const submitted = new Date(body.submitted_time)
    if (submitted.getTime() > at.getTime() + CLOCK_SKEW_MS) details.push({ in: 'body', field: '/submitted_time', message: 'must not be in the future' })
    const earliest = deps.earliestReceivedAt?.(at)
    if (earliest && submitted < earliest) details.push({ in: 'body', field: '/submitted_time', message: `must not be before ${earliest.toISOString()} (RECEIVED_AT_EARLIEST)` })
    if (body.extensions && Object.hasOwn(body.extensions, domain)) {
      details.push({ in: 'body', field: `/extensions/${domain}`, message: 'is not supported: this processor defines no extensions' })
    }
    if (details.length > 0) throw validationError(details)
    ;(body.status_callback_urls ?? []).forEach((url, i) => {
      const refusal = deps.callbackRefusal(url)
      if (refusal) throw new Errors.CallbackUrlNotAllowed(`/status_callback_urls/${i}: ${refusal.replace(/^callback_url:? ?/, '')}`)
    })
  }

  return {
    /** The signer, once the facade is configured (for the routes' signed answers); null otherwise. */
    signer: deps.signer,

    /** §6.3: what this processor accepts, from the same tables intake reads. */
    discovery (flavour: Flavour) {
      const { domain } = signer()
      return {
        api_version: FLAVOURS[flavour].apiVersion,
        supported_identities: supportedIdentities(),
        supported_subject_request_types: Object.keys(SUBJECT_REQUEST_TYPES),
        processor_certificate: `https://${domain}${FLAVOURS.v2.prefix}/certificate.pem`
      }
    },

    certificate (): string {
      return signer().certificatePem
    },

    /**
     * §7: creates the service's request (verified: the controller verified the person and instructs
     * its processor) and links it to subject_request_id. The same body sent again is answered as
     * before; a different one under the same id is refused.
     */
    async create (flavour: Flavour, body: IncomingOpenDsrRequest, raw: Buffer, principal: Principal) {
      const { domain } = signer()
      const at = now()
      check(body, domain, at)
      const input: CreateRequest = {
        type: SUBJECT_REQUEST_TYPES[body.subject_request_type],
        regime: REGULATIONS[body.regulation ?? 'gdpr'],
        subject: subjectOf(body.subject_identities),
        received_at: body.submitted_time,
        channel: 'api',
        verification: { method: 'other', reference: `OpenDSR ${body.subject_request_id}: verified by the controller` }
      }
      let created
      try {
        created = await deps.requests.create(input, principal, `opendsr:${body.subject_request_id}`)
      } catch (err) {
        if ((err as { code?: string }).code === Errors.IdempotencyKeyReused.code) throw new Errors.OpenDsrRequestIdReused(body.subject_request_id)
        throw err
      }
      const callbackUrls = body.status_callback_urls ?? []
      const linked = await deps.repo.link({
        controllerId: principal.name, subjectRequestId: body.subject_request_id, requestId: created.request.id, flavour, callbackUrls, receivedAt: at
      })
      const same = linked.row.requestId === created.request.id && linked.row.flavour === flavour &&
        linked.row.callbackUrls.length === callbackUrls.length && linked.row.callbackUrls.every((u, i) => u === callbackUrls[i])
      if (linked.status === 'exists' && !same) throw new Errors.OpenDsrRequestIdReused(body.subject_request_id)
      return {
        controller_id: principal.name,
        expected_completion_time: created.request.effective_due_at,
        received_time: linked.row.receivedAt.toISOString(),
        encoded_request: raw.toString('base64'),
        subject_request_id: body.subject_request_id
      }
    },

    /** §8: the status, read from the service's request. */
    async status (flavour: Flavour, subjectRequestId: string, principal: Principal) {
      signer()
      const link = await deps.repo.find(principal.name, subjectRequestId)
      if (!link) throw new Errors.OpenDsrRequestNotFound(subjectRequestId)
      const request = await deps.requests.get(link.requestId)
      return {
        controller_id: principal.name,
        expected_completion_time: request.effective_due_at,
        subject_request_id: subjectRequestId,
        request_status: openDsrStatus(request.status),
        api_version: FLAVOURS[flavour].apiVersion
      }
    },

    /** §9: cancels a pending request (the service's cancel, with the reason on record); refused once it is in progress. */
    async cancel (flavour: Flavour, subjectRequestId: string, principal: Principal) {
      signer()
      const link = await deps.repo.find(principal.name, subjectRequestId)
      if (!link) throw new Errors.OpenDsrRequestNotFound(subjectRequestId)
      const request = await deps.requests.get(link.requestId)
      if (openDsrStatus(request.status) !== 'pending') throw new Errors.OpenDsrNotCancellable(openDsrStatus(request.status))
      // One controller's DELETE must not cancel what another (or another of its ids) still asks for.
      if (await deps.repo.linkCount(link.requestId) > 1) throw new Errors.OpenDsrRequestShared()
      try {
        await deps.requests.transition(link.requestId, 'cancelled', principal, `Cancelled by the controller: OpenDSR DELETE of ${subjectRequestId}`)
      } catch (err) {
        // It moved on between the read and the cancel.
        if ((err as { code?: string }).code === Errors.IllegalTransition.code) throw new Errors.OpenDsrNotCancellable(openDsrStatus((await deps.requests.get(link.requestId)).status))
        throw err
      }
      return { controller_id: principal.name, subject_request_id: subjectRequestId, received_time: now().toISOString(), api_version: FLAVOURS[flavour].apiVersion }
    }
  }
}

export type OpenDsrService = ReturnType<typeof createOpenDsrService>
