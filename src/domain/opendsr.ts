import type { RequestStatus } from './lifecycle.js'
import type { RequestType } from './requests.js'
import type { Regime } from './deadlines.js'

/**
 * OpenDSR 2.0 (github.com/opengdpr/OpenDSR, specification.md) mapped onto the service's own
 * requests, in one place: request types (§6.2), regulations (§7.1.1), identities (§5.1, §5.2) and
 * statuses (§8). Discovery, intake and the status read back all read these tables, so what
 * discovery announces is exactly what intake accepts.
 */

/** §10.1: the v1 names (OpenGDPR) are honoured beside the v2 ones; each flavour has its route noun and header prefix. */
export const FLAVOURS = {
  v2: { prefix: '/opendsr/v2', requests: 'requests', headers: 'X-OpenDSR', apiVersion: '2.0' },
  v1: { prefix: '/opendsr/v1', requests: 'opengdpr_requests', headers: 'X-OpenGDPR', apiVersion: '1.0' }
} as const
export type Flavour = keyof typeof FLAVOURS

/** The headers of a signed answer or callback in a flavour: `X-OpenDSR-Signature`, `X-OpenDSR-Processor-Domain` (or X-OpenGDPR-*). */
export function signatureHeaders (flavour: Flavour) {
  const p = FLAVOURS[flavour].headers
  return { signature: `${p}-Signature`, domain: `${p}-Processor-Domain` } as const
}

/** §6.2 subject request types: each is the service's type of the same name. */
export const SUBJECT_REQUEST_TYPES = { access: 'access', portability: 'portability', erasure: 'erasure' } as const satisfies Record<string, RequestType>
export type SubjectRequestType = keyof typeof SUBJECT_REQUEST_TYPES

/** §7.1.1 regulations ('gdpr' or 'ccpa'): each is the service's regime of the same name, which sets the deadline. */
export const REGULATIONS = { gdpr: 'gdpr', ccpa: 'ccpa' } as const satisfies Record<string, Regime>
export type Regulation = keyof typeof REGULATIONS

/** §5.1 identity types. */
export const IDENTITY_TYPES = [
  'controller_customer_id', 'android_advertising_id', 'android_id', 'email', 'fire_advertising_id', 'ios_advertising_id',
  'ios_vendor_id', 'microsoft_advertising_id', 'microsoft_publisher_id', 'roku_publisher_id', 'roku_advertising_id'
] as const
export type IdentityType = typeof IDENTITY_TYPES[number]

/** §5.2 identity formats. */
export const IDENTITY_FORMATS = ['raw', 'sha1', 'md5', 'sha256'] as const
export type IdentityFormat = typeof IDENTITY_FORMATS[number]

/**
 * Where an identity goes in the service's subject, or why it cannot be accepted. An identity is
 * accepted only where a connector can match on what it becomes: e-mail addresses (raw) and their
 * SHA-256 (the subject's email_sha256, which the Postgres connector matches on a hashed column),
 * the controller's customer id, and device ids as external ids labelled with their OpenDSR type
 * (a connector column of kind external_id with that system matches them). An MD5 or SHA-1 of
 * anything, and a hash of a device or customer id, match nothing any connector holds: refused,
 * never accepted and ignored.
 */
export type IdentityTarget =
  | { to: 'email' | 'email_sha256' | 'customer_id' }
  | { to: 'external_id', system: IdentityType }
  | { to: 'refused', why: string }

const DEVICE_ID = (type: IdentityType): IdentityTarget => ({ to: 'external_id', system: type })
const NO_HASH_MATCH = 'no connector matches on a hash of this identity type'

export const IDENTITY_TABLE: Record<IdentityType, Record<IdentityFormat, IdentityTarget>> = {
  email: { raw: { to: 'email' }, sha256: { to: 'email_sha256' }, sha1: refused('no connector matches on the SHA-1 of an e-mail address'), md5: refused('no connector matches on the MD5 of an e-mail address') },
  controller_customer_id: { raw: { to: 'customer_id' }, ...hashesRefused() },
  android_advertising_id: { raw: DEVICE_ID('android_advertising_id'), ...hashesRefused() },
  android_id: { raw: DEVICE_ID('android_id'), ...hashesRefused() },
  fire_advertising_id: { raw: DEVICE_ID('fire_advertising_id'), ...hashesRefused() },
  ios_advertising_id: { raw: DEVICE_ID('ios_advertising_id'), ...hashesRefused() },
  ios_vendor_id: { raw: DEVICE_ID('ios_vendor_id'), ...hashesRefused() },
  microsoft_advertising_id: { raw: DEVICE_ID('microsoft_advertising_id'), ...hashesRefused() },
  microsoft_publisher_id: { raw: DEVICE_ID('microsoft_publisher_id'), ...hashesRefused() },
  roku_publisher_id: { raw: DEVICE_ID('roku_publisher_id'), ...hashesRefused() },
  roku_advertising_id: { raw: DEVICE_ID('roku_advertising_id'), ...hashesRefused() }
}

function refused (why: string): IdentityTarget { return { to: 'refused', why } }
function hashesRefused (): Record<Exclude<IdentityFormat, 'raw'>, IdentityTarget> {
  return { sha1: refused(NO_HASH_MATCH), md5: refused(NO_HASH_MATCH), sha256: refused(NO_HASH_MATCH) }
}

/** The (type, format) pairs intake accepts, as discovery's `supported_identities` lists them (§6.3). */
export function supportedIdentities (): Array<{ identity_type: IdentityType, identity_format: IdentityFormat }> {
  return IDENTITY_TYPES.flatMap((type) => IDENTITY_FORMATS.filter((format) => IDENTITY_TABLE[type][format].to !== 'refused')
    .map((format) => ({ identity_type: type, identity_format: format })))
}

/** §8 statuses. */
export const OPENDSR_STATUSES = ['pending', 'in_progress', 'completed', 'cancelled'] as const
export type OpenDsrStatus = typeof OPENDSR_STATUSES[number]

/**
 * The service's status as OpenDSR reads it. OpenDSR has no status for a request that failed or was
 * refused: `completed` is said only of a request fulfilled in full; one partially completed or
 * failed is still owed (an operator retries or closes it), so it stays `in_progress`; one rejected
 * on a legal ground will not be fulfilled, and `cancelled` is the only status that says so. A
 * request on hold (a legal hold, a check of the person) is being acted on: `in_progress`, which
 * also means the controller can no longer cancel it (§9: cancellation while pending only).
 */
export const STATUS_TABLE: Record<RequestStatus, OpenDsrStatus> = {
  received: 'pending',
  verifying: 'pending',
  ready: 'pending',
  awaiting_approval: 'pending',
  awaiting_controller: 'pending',
  in_progress: 'in_progress',
  on_hold: 'in_progress',
  completed: 'completed',
  partially_completed: 'in_progress',
  failed: 'in_progress',
  rejected: 'cancelled',
  cancelled: 'cancelled'
}

export function openDsrStatus (status: RequestStatus): OpenDsrStatus {
  return STATUS_TABLE[status]
}
