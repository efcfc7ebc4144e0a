import createError from '@fastify/error'
import { ConnectorErrorCodes } from '../connectors/types.js'

/**
 * Where a code is kept when it is not (only) answered: on a task, an archive, a transfer, a pg-boss job,
 * a status callback's delivery, or the report of an audit trail verification (`first_break.code`).
 */
export type RecordedOn = 'task' | 'archive' | 'transfer' | 'job' | 'callback' | 'audit_report'

/**
 * One code of the catalogue (the README's table): the HTTP status it is answered with (null when the
 * API never answers it), where it is recorded, whether the work is retried after it (null when that
 * does not apply), and when it happens.
 */
export interface CatalogueEntry {
  code: string
  status: number | null
  on: readonly RecordedOn[]
  retryable: boolean | null
  when: string
}

/**
 * The base of every error class of the catalogue: `err instanceof DsrError` tells one of ours from
 * anything else (a driver's, a library's). Connector failures are the contract's `ConnectorError`.
 */
export class DsrError extends Error {
  declare code: string
  declare statusCode: number
}

const catalogue: CatalogueEntry[] = []

interface Recorded { on: readonly RecordedOn[], retryable: boolean | null }

/** An error class of the catalogue, with its code on the class (`Errors.X.code`) and in the README's table. */
function entry<Arg extends unknown[] = [any?, any?, any?]> (code: string, message: string, status: number, when: string, recorded?: Recorded) {
  catalogue.push({ code, status, on: recorded?.on ?? [], retryable: recorded?.retryable ?? null, when })
  return Object.assign(createError<Arg>(code, message, status, DsrError as unknown as ErrorConstructor), { code })
}

/** A code the API never answers: recorded on a task, archive, transfer or job, with whether it is retried. */
function recorded<Arg extends unknown[] = [any?, any?, any?]> (code: string, message: string, on: readonly RecordedOn[], retryable: boolean | null, when: string) {
  catalogue.push({ code, status: null, on, retryable, when })
  return Object.assign(createError<Arg>(code, message, 500, DsrError as unknown as ErrorConstructor), { code })
}

/**
 * The error catalogue. Every error the API returns carries one of these stable codes;
 * clients switch on `code`, never on `message`.
 */
export const Errors = {
  ValidationFailed: entry<[string]>('DSR_VALIDATION_FAILED', '%s', 400, 'a field is missing, unknown, of the wrong type or out of range (`details` names each)'),
  InvalidJson: entry('DSR_INVALID_JSON', 'The request body is not valid JSON', 400, 'the body is not JSON'),
  EmptyBody: entry('DSR_EMPTY_BODY', 'The request body is empty', 400, 'the body is empty'),
  UnsupportedMediaType: entry('DSR_UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/json', 415, 'the body is not `application/json`'),
  UnsupportedCharset: entry('DSR_UNSUPPORTED_CHARSET', 'The body must be JSON in UTF-8: drop the charset parameter or name utf-8', 415, 'the `Content-Type` names a charset other than UTF-8'),
  NestingTooDeep: entry<[number]>('DSR_NESTING_TOO_DEEP', 'The body nests arrays and objects deeper than %d levels', 400, 'the JSON body nests arrays and objects deeper than 32 levels'),
  PayloadTooLarge: entry('DSR_PAYLOAD_TOO_LARGE', 'The request body is larger than the service accepts', 413, 'the body is over `BODY_LIMIT_BYTES`'),
  Unauthenticated: entry('DSR_UNAUTHENTICATED', 'A valid API key is required (Authorization: Bearer <key>)', 401, 'no API key, or an unknown one'),
  Forbidden: entry<[string]>('DSR_FORBIDDEN', 'This API key lacks the scope %s', 403, "the key lacks the route's scope"),
  ConsoleSessionRequired: entry('DSR_CONSOLE_SESSION_REQUIRED', 'Sign in to the console first: there is no session, or it ended, expired or was signed out', 401,
    'a console action without a live session (none, idle too long, signed out, or its key no longer configured)'),
  CsrfTokenInvalid: entry('DSR_CSRF_TOKEN_INVALID', 'The form is missing its anti-forgery token, or the token is not this session\'s: reload the page and try again', 403,
    'a console form posted without the token of the session that showed it'),
  ConsoleNotConfigured: entry('DSR_CONSOLE_NOT_CONFIGURED', 'The operator console is not served here: set CONSOLE_SESSION_KEY', 404,
    'a console page on Postgres without CONSOLE_SESSION_KEY (the embedded database makes a key for the process)'),
  PrivacyCentreNotConfigured: entry('DSR_PRIVACY_CENTRE_NOT_CONFIGURED', 'The privacy centre is not served here: it confirms requests by e-mail, and SMTP_URL is not set', 404,
    'a privacy centre page where the service cannot send e-mail (no `SMTP_URL`)'),
  CrossSiteForm: entry('DSR_CROSS_SITE_FORM', 'This form was sent from another site', 403,
    "a privacy centre form posted from another site (the browser's `Sec-Fetch-Site` or `Origin` says so)"),
  TooManyRequests: entry<[number]>('DSR_TOO_MANY_REQUESTS', 'Too many requests from here: try again in %d seconds', 429,
    'the privacy centre\'s limit per address or per e-mail address was reached (`PRIVACY_RATE_LIMIT_*`); `Retry-After` says when to try again'),
  StatusLinkInvalid: entry('DSR_STATUS_LINK_INVALID', 'This status link is not valid', 403, 'a privacy centre status link with a wrong or missing signature'),
  StatusLinkExpired: entry('DSR_STATUS_LINK_EXPIRED', 'This status link has expired', 403, 'a privacy centre status link past its expiry (the request no longer keeps who asked)'),
  RouteNotFound: entry<[string, string]>('DSR_ROUTE_NOT_FOUND', 'No route %s %s', 404, 'no route has this method and path'),
  RequestNotFound: entry<[string]>('DSR_REQUEST_NOT_FOUND', 'No request with id %s', 404, 'no request has this id'),
  IdempotencyKeyReused: entry(
    'DSR_IDEMPOTENCY_KEY_REUSED',
    'This Idempotency-Key was already used with a different request body', 422, 'an Idempotency-Key reused with a different body'),
  DuplicateRequest: entry<[string, string]>('DSR_DUPLICATE_REQUEST', 'An open %s request for the same person exists: %s (DUPLICATE_POLICY refuses a second)', 409,
    'a second open request for the same person and type, where DUPLICATE_POLICY says refuse'),
  IllegalTransition: entry<[string, string]>('DSR_ILLEGAL_TRANSITION', 'A request in status %s cannot move to %s', 409, 'e.g. cancelling a completed request'),
  ExtensionNotAvailable: entry<[string]>(
    'DSR_EXTENSION_NOT_AVAILABLE', 'Requests under %s have no statutory deadline extension', 422, 'extending a request whose regime has no extension'),
  ExtensionAlreadyTaken: entry(
    'DSR_EXTENSION_ALREADY_TAKEN', 'The deadline of this request was already extended; an extension is taken once', 409, 'extending a request a second time'),
  ExtensionRequestClosed: entry<[string]>(
    'DSR_EXTENSION_REQUEST_CLOSED', 'A request in status %s is closed; its deadline can no longer be extended', 409, 'extending a closed request'),
  ExtensionTooLate: entry<[string]>(
    'DSR_EXTENSION_TOO_LATE',
    'The statutory deadline (%s) has passed: an extension must be taken, and the person told, within the first period', 409, 'extending after the statutory `due_at`'),
  ExtensionNotTaken: entry(
    'DSR_EXTENSION_NOT_TAKEN', 'The deadline of this request was not extended: there is no extension to tell the person of', 409, 'recording the notice of an extension never taken'),
  ExtensionNoticeRecorded: entry(
    'DSR_EXTENSION_NOTICE_ALREADY_RECORDED', 'When the person was told of the extension is already on record', 409, 'recording a second, different date for the notice of an extension'),
  TaskNotFound: entry<[string]>('DSR_TASK_NOT_FOUND', 'No task %s on this request', 404, 'the request has no task with this id'),
  IllegalTaskAction: entry<[string, string]>('DSR_ILLEGAL_TASK_ACTION', 'Cannot %s a task that is %s', 409, 'retrying a task that did not fail, say'),
  NotAwaitingApproval: entry<[string]>('DSR_NOT_AWAITING_APPROVAL', 'The request is %s, not awaiting approval', 409, 'approving a request that policy did not hold for approval, or one already approved'),
  IdentityNotInReview: entry<[string]>('DSR_IDENTITY_NOT_IN_REVIEW', 'The request is not held for an identity review (%s)', 409,
    'choosing the person of a request that the identity check did not hold (IDENTITY_CHECK): its identifiers led to one person, or a reviewer already chose'),
  IdentityCandidateUnknown: entry<[number]>('DSR_IDENTITY_CANDIDATE_UNKNOWN', 'The identity review lists no candidate %s', 422,
    'choosing a candidate index the identity review of the request does not list (GET /v1/requests/{id}/identity)'),
  RefusalGroundNotApplicable: entry<[string, string, string]>('DSR_REFUSAL_GROUND_NOT_APPLICABLE', 'The ground %s does not apply to a %s request under %s', 422,
    'a refusal ground with no provision for the request\'s regime and type (see GET /v1/refusal-grounds)'),
  InvalidCursor: entry('DSR_INVALID_CURSOR', 'The pagination cursor is not one this service issued', 400, 'a pagination cursor this service did not issue'),
  ArchiveNotReady: entry('DSR_ARCHIVE_NOT_READY', 'The request has no ready archive', 409, "the request's archive is not ready (not completed yet, being built, or failed): download, link or direct transfer (recorded on a transfer whose archive went meanwhile)",
    { on: ['transfer'], retryable: false }),
  ArchiveExpired: entry('DSR_ARCHIVE_EXPIRED', 'The archive was deleted when its retention period ended', 410, 'the archive was deleted by retention'),
  RangeNotSatisfiable: entry<[number]>('DSR_RANGE_NOT_SATISFIABLE', 'The range lies outside the archive (%d bytes)', 416, 'a `Range` past the end of the archive'),
  LinkUnsigned: entry('DSR_LINK_UNSIGNED', 'A download link needs its exp and sig parameters', 401, 'an archive link without its `exp` and `sig`'),
  LinkInvalid: entry('DSR_LINK_INVALID', 'This download link is not valid', 403, 'an archive link with a wrong signature'),
  LinkExpired: entry('DSR_LINK_EXPIRED', 'This download link has expired', 403, 'an archive link past its expiry'),
  LinkRevoked: entry('DSR_LINK_REVOKED', 'This download link was revoked', 403, 'an archive link that was revoked'),
  LinkNotFound: entry<[string]>('DSR_LINK_NOT_FOUND', 'No download link %s on this request', 404, 'revoking a link the request does not have'),
  TransferNotFound: entry<[string]>('DSR_TRANSFER_NOT_FOUND', 'No transfer %s on this request', 404, 'the request has no transfer with this id'),
  TransferDestinationNotAllowed: entry<[string]>('DSR_TRANSFER_DESTINATION_NOT_ALLOWED', '%s', 422, 'the destination is not in `TRANSFER_ALLOWLIST`, or resolves to a non-public address (recorded on a transfer when this is found at sending)',
    { on: ['transfer'], retryable: false }),
  TransferDestinationUnresolvable: entry<[string]>(
    'DSR_TRANSFER_DESTINATION_UNRESOLVABLE', 'The destination host %s does not resolve to any address', 422, "the destination's host does not resolve"),
  TransferAuthNotConfigured: entry(
    'DSR_TRANSFER_AUTH_NOT_CONFIGURED',
    'An authorization can be kept only encrypted at rest, and this deployment has no TRANSFER_SECRET_KEY', 422, 'an `authorization` was given but `TRANSFER_SECRET_KEY` is not set'),
  ConnectorNotFound: entry<[string]>('DSR_CONNECTOR_NOT_FOUND', 'No connector %s in this deployment', 404, 'no connector has this id in this deployment'),
  RetentionNotConfigured: entry<[string]>('DSR_RETENTION_NOT_CONFIGURED', 'Connector %s has no retention rules', 409, 'sweeping a connector that has no retention rules'),
  Internal: entry('DSR_INTERNAL', 'Internal error', 500, 'a fault of the service; never carries internals'),
  BadRequest: entry('DSR_BAD_REQUEST', 'The request could not be read', 400, 'a request the HTTP layer refused before any route saw it (a malformed path escape, a path over the length limit: 414)'),
  Unavailable: entry('DSR_UNAVAILABLE', 'The service is not ready or cannot reach its database or object store: try again shortly', 503,
    'the service is starting, stopping, or cannot reach its database (stopped, restarting, out of connections) or object store (unreachable, or answering 5xx); the answer carries Retry-After'),
  LinkSuperseded: entry('DSR_LINK_SUPERSEDED', 'The archive this link was made for has been replaced by a newer one; ask for a new link', 410, 'an archive link made for an archive that a rebuild has replaced'),
  ArchiveNotRebuildable: entry<[string]>('DSR_ARCHIVE_NOT_REBUILDABLE', 'Only a failed or expired archive of a closed access or portability request can be rebuilt: %s', 409, 'rebuilding an archive that is ready or building, or of a request that has none'),
  ArchiveItemsSwept: entry(
    'DSR_ARCHIVE_ITEMS_SWEPT', 'Retention deleted the data collected for this request: its archive cannot be rebuilt; run the request again', 409, 'rebuilding an archive whose collected items retention already deleted (recorded on the archive when a rebuild queued earlier finds them gone)',
    { on: ['archive'], retryable: false }),
  ErasurePreviewNotAvailable: entry<[string]>('DSR_ERASURE_PREVIEW_NOT_AVAILABLE', 'No erasure preview: %s', 409,
    'an erasure preview of a request that is not an erasure, whose fulfilment has started or ended, or whose identifiers were removed'),
  ReceiptNotAvailable: entry<[string]>('DSR_RECEIPT_NOT_AVAILABLE', 'No erasure receipt: %s', 409, 'an erasure receipt for a request that is not an erasure, or not completed or partially completed'),
  RestoreConnectorInvalid: entry<[string]>(
    'DSR_RESTORE_CONNECTOR_INVALID', 'No connector %s able to erase in this deployment: nothing can be erased again in it', 422, 'a restore of a connector that is not configured or cannot erase'),
  RestoreNotFound: entry<[string]>('DSR_RESTORE_NOT_FOUND', 'No backup restore with id %s', 404, 'no backup restore has this id'),
  RestrictionNotPlaced: entry<[string]>('DSR_RESTRICTION_NOT_PLACED', 'There is no restriction to lift: %s', 409, 'lifting a restriction of a request that is not a restriction or objection, or where no system marked anything'),
  RestrictionNotCompleted: entry<[string]>(
    'DSR_RESTRICTION_NOT_COMPLETED', 'A restriction is lifted once its request has completed; this one is %s', 409, 'lifting before the request has completed'),
  RestrictionAlreadyLifted: entry('DSR_RESTRICTION_ALREADY_LIFTED', 'This restriction was already lifted; a restriction is lifted once', 409, 'lifting a restriction a second time'),
  RestrictionSubjectRedacted: entry(
    'DSR_RESTRICTION_SUBJECT_REDACTED',
    "The request's identifiers were removed, so the systems can no longer find the person's records: lift the restriction in them directly", 409, "lifting after the request's identifiers were removed: the systems can no longer find the records"),
  CallbackUrlNotAllowed: entry<[string]>('DSR_CALLBACK_URL_NOT_ALLOWED', '%s', 422,
    'a `callback_url` whose origin is not in `CALLBACK_ALLOWLIST` (or none is configured); recorded on a delivery when this, or its DNS answer, is found at sending',
    { on: ['callback'], retryable: false }),
  CallbackDeliveryNotFound: entry<[string]>('DSR_CALLBACK_DELIVERY_NOT_FOUND', 'No status callback delivery %s on this request', 404, 'the request has no callback delivery with this id'),
  CallbackDeliverySending: entry('DSR_CALLBACK_DELIVERY_SENDING', 'This delivery is being sent right now; ask again once it has ended', 409, 'redelivering a callback while an attempt is under way'),
  CallbackUrlRemoved: entry('DSR_CALLBACK_URL_REMOVED', "The request's callback_url was removed with its other personal data: nothing more is sent", 409,
    'redelivering a callback of a request whose identifiers were removed (recorded on a delivery that falls due after that)', { on: ['callback'], retryable: false }),
  OpenDsrNotConfigured: entry('DSR_OPENDSR_NOT_CONFIGURED',
    'The OpenDSR facade is not served here: OpenDSR answers and callbacks must be signed, and OPENDSR_PROCESSOR_DOMAIN, OPENDSR_CERTIFICATE and OPENDSR_SIGNING_KEY are not set', 404,
    'an OpenDSR route on a deployment without its signing certificate and key (recorded on an OpenDSR callback that falls due then)', { on: ['callback'], retryable: false }),
  OpenDsrIdentityUnsupported: entry<[string]>('DSR_OPENDSR_IDENTITY_UNSUPPORTED', '%s', 400,
    'an OpenDSR identity of a type and format no connector can match (an MD5 or SHA-1, a hashed device id): refused rather than ignored; discovery lists those accepted'),
  OpenDsrRequestNotFound: entry<[string]>('DSR_OPENDSR_REQUEST_NOT_FOUND', 'No OpenDSR request %s from this controller', 404,
    'no OpenDSR request with this subject_request_id was sent with this API key'),
  OpenDsrRequestIdReused: entry<[string]>('DSR_OPENDSR_REQUEST_ID_REUSED', 'subject_request_id %s was already sent by this controller with a different request', 409,
    'a subject_request_id sent again with a different body or callback URLs (the same one again is answered as before)'),
  OpenDsrRequestShared: entry('DSR_OPENDSR_REQUEST_SHARED',
    'This request also answers another OpenDSR request (DUPLICATE_POLICY merge): it is not cancelled for one of them', 409,
    'cancelling an OpenDSR request whose service request another OpenDSR request (another controller\'s, or another id) was merged into'),
  OpenDsrNotCancellable: entry<[string]>('DSR_OPENDSR_NOT_CANCELLABLE', 'Only a pending request can be cancelled (OpenDSR §9); this one is %s', 409,
    'cancelling an OpenDSR request that is in_progress, completed or cancelled'),
  NotifierNotConfigured: entry('DSR_NOTIFIER_NOT_CONFIGURED', 'The service cannot send e-mail here (SMTP_URL is not set): verify the identity another way and record it with POST /v1/requests/{id}/verify', 409,
    'starting a verification where no SMTP relay is configured'),
  NotifierFailed: entry<[string]>('DSR_NOTIFIER_FAILED', 'The verification e-mail could not be sent (%s); start the verification again', 502,
    'the SMTP relay did not accept the verification e-mail (recorded on the request as `verification_send_failed`)'),
  VerificationNoEmail: entry('DSR_VERIFICATION_NO_EMAIL', 'The request has no e-mail address of the subject to send a verification to', 422,
    'starting a verification of a request whose subject has no `email` (or whose identifiers were removed)'),
  VerificationNotStarted: entry('DSR_VERIFICATION_NOT_STARTED', 'No verification is open for this request: start one with POST /v1/requests/{id}/verification', 409,
    'confirming a code for a request that has no open verification (never started, replaced, or already confirmed)'),
  VerificationCodeWrong: entry<[number]>('DSR_VERIFICATION_CODE_WRONG', 'The code is wrong; %d attempts left', 422,
    'a wrong verification code (counted; the last allowed one locks the verification)'),
  VerificationLocked: entry('DSR_VERIFICATION_LOCKED', 'Too many wrong codes: this verification is locked; an operator can start a new one', 423,
    'any code (even the right one) or link of a verification locked after `VERIFICATION_MAX_ATTEMPTS` wrong codes'),
  VerificationExpired: entry('DSR_VERIFICATION_EXPIRED', 'This verification code or link has expired; ask for a new one', 410,
    'a code or link past `VERIFICATION_TTL_MINUTES`'),
  VerificationLinkIncomplete: entry('DSR_VERIFICATION_LINK_INCOMPLETE', 'A verification link needs its token', 401, 'a verification link without its `token`'),
  VerificationLinkInvalid: entry('DSR_VERIFICATION_LINK_INVALID', 'This verification link is not valid, or was already used', 403,
    'a verification link that is unknown, was used, or was replaced by a newer one'),
  AccountNotFound: entry<[string]>('DSR_ACCOUNT_NOT_FOUND', 'No customer account %s', 404, 'no customer account has this id (or the key is bound to another account)'),
  AccountPartNotAwaiting: entry<[string, string]>('DSR_ACCOUNT_PART_NOT_AWAITING', 'The part of account %s is %s, not waiting for an instruction', 409,
    'an instruction or refusal for an account part that was decided before, or a request with no part of that account'),
  HoldNotFound: entry<[string]>('DSR_HOLD_NOT_FOUND', 'No legal hold with id %s', 404, 'no legal hold has this id'),
  HoldAlreadyReleased: entry('DSR_HOLD_ALREADY_RELEASED', 'This legal hold was already released; a hold is released once', 409, 'releasing a legal hold a second time'),
  HoldCoversInvalid: entry<[string]>('DSR_HOLD_COVERS_INVALID', 'The hold covers what this deployment does not have: %s', 422,
    'a legal hold naming a connector that is not configured, or a stream that connector does not declare'),
  HoldReviewInvalid: entry<[string]>('DSR_HOLD_REVIEW_INVALID', 'The review date %s', 422, 'a legal hold whose `review_at` is not in the future, or more than ten years ahead')
} as const

/**
 * The codes of work that failed out of sight of a caller: recorded on a task, an archive, a transfer
 * or a pg-boss job, and shown by the API where that is read (`last_error_code`, `error_code`); and
 * what an audit trail verification found broken (its report's `first_break.code`).
 */
export const JobErrors = {
  ConnectorNotConfigured: recorded('DSR_CONNECTOR_NOT_CONFIGURED', 'connector is not configured in this deployment', ['task'], false,
    "the task's connector was removed from the deployment after the task was planned"),
  ConnectorUnsupported: recorded('DSR_CONNECTOR_UNSUPPORTED', 'connector cannot %s', ['task'], false, "the task's connector does not have the action (a planning fault)"),
  ConnectorContract: recorded('DSR_CONNECTOR_CONTRACT', 'connector yielded undeclared stream %s', ['task'], false, 'a connector yielded data for a stream it does not declare'),
  ConnectorDown: recorded('DSR_CONNECTOR_DOWN', 'waiting for connector %s', ['task'], true,
    'the task waits (`waiting`) because its system failed and a health check says it is down; the next healthy check releases it'),
  TaskUnfinished: recorded('DSR_TASK_UNFINISHED', 'the task had not finished', ['archive'], null,
    "an archive's manifest names a system whose search had not finished (reopened by a retry) when the archive was built"),
  ErasureResidue: recorded('DSR_ERASURE_RESIDUE', 'a search after the erasure still finds records', ['task'], false,
    "a system reported its erasure done, but searching it again with the same identifiers still finds records it did not say it retained (the task's `result.verification.residue` gives the streams and counts, never values); searched ERASURE_CHECK_ATTEMPTS times, the connector's settle time apart"),
  TaskFailed: recorded('DSR_TASK_FAILED', 'the task failed without a code', ['task'], false, 'a failed task with no code of its own, as a receipt or manifest names it (a row from before codes were recorded)'),
  ArchiveBuildFailed: recorded('DSR_ARCHIVE_BUILD_FAILED', 'the archive could not be built', ['archive', 'job'], true, 'an archive build failed for a reason without a code of its own (the build is retried; the last failure is kept)'),
  ArchiveItemCorrupt: recorded<[string]>('DSR_ARCHIVE_ITEM_CORRUPT', '%s', ['archive'], true, 'a collected file no longer matches the hash recorded when it was collected'),
  ArchiveUnreadable: recorded<[string, { cause: unknown }?]>('DSR_ARCHIVE_UNREADABLE', '%s', ['transfer'], false,
    'a stored archive does not match its row (truncated, replaced, or sealed under another key): the download answers 500, a transfer fails'),
  ArchiveBuildTimeout: recorded('DSR_ARCHIVE_BUILD_TIMEOUT', 'the archive build did not finish in time', ['archive', 'job'], true,
    'an archive build took longer than ARCHIVE_BUILD_TIMEOUT_SECONDS, or its start longer than two leases (waiting on something that does not answer): given up and tried again'),
  ArchiveWorkerLost: recorded('DSR_ARCHIVE_WORKER_LOST', 'the worker building the archive stopped', ['archive'], true,
    'the process building an archive stopped before it ended (its lease ran out): the build is queued again, and the archive fails once its attempts are spent'),
  JobFailed: recorded('DSR_JOB_FAILED', 'the job failed', ['job'], true, 'a pg-boss job (archive build, transfer, scheduled job) threw an error without a code'),
  TransferWorkerLost: recorded('DSR_TRANSFER_WORKER_LOST', 'the worker sending the transfer stopped', ['transfer'], true, 'the process sending a transfer stopped before it ended (its lease ran out)'),
  TransferInternal: recorded('DSR_TRANSFER_INTERNAL', 'unexpected error while sending', ['transfer'], true, 'an unexpected fault while sending'),
  TransferDns: recorded('DSR_TRANSFER_DNS', '%s', ['transfer'], true, "the destination's host did not resolve at sending"),
  TransferAuthUnavailable: recorded('DSR_TRANSFER_AUTH_UNAVAILABLE', 'the stored authorization cannot be decrypted with the configured TRANSFER_SECRET_KEY', ['transfer'], false,
    'the stored authorization cannot be decrypted with the configured `TRANSFER_SECRET_KEY`'),
  TransferArchiveRead: recorded('DSR_TRANSFER_ARCHIVE_READ', 'opening the stored archive failed', ['transfer'], true, 'the stored archive could not be opened or read while sending'),
  TransferTimeout: recorded('DSR_TRANSFER_TIMEOUT', 'the receiver did not answer in time', ['transfer'], true, 'the receiver did not answer in time, or answered 408'),
  TransferConnection: recorded('DSR_TRANSFER_CONNECTION', 'the connection to the receiver failed', ['transfer'], true, 'the connection to the receiver failed or was reset'),
  TransferInterrupted: recorded('DSR_TRANSFER_INTERRUPTED', 'the sending was interrupted', ['transfer'], true, 'the sending was interrupted (the process was stopping)'),
  TransferIntegrity: recorded('DSR_TRANSFER_INTEGRITY', 'the bytes sent do not match the archive', ['transfer'], false, "the bytes sent did not match the archive's recorded size and hash"),
  TransferIncomplete: recorded('DSR_TRANSFER_INCOMPLETE', 'the receiver answered before the whole archive was sent', ['transfer'], true, 'the receiver answered before the whole archive was sent'),
  TransferRedirect: recorded('DSR_TRANSFER_REDIRECT', 'the receiver redirected', ['transfer'], false, 'the receiver answered with a redirect (never followed)'),
  TransferRateLimited: recorded('DSR_TRANSFER_RATE_LIMITED', 'the receiver answered 429', ['transfer'], true, 'the receiver answered 429 (its `Retry-After` is honoured)'),
  TransferReceiverError: recorded('DSR_TRANSFER_RECEIVER_ERROR', 'the receiver answered 5xx', ['transfer'], true, 'the receiver answered 5xx'),
  TransferRejected: recorded('DSR_TRANSFER_REJECTED', 'the receiver refused the archive', ['transfer'], false, 'the receiver answered another 4xx'),
  CallbackDns: recorded('DSR_CALLBACK_DNS', "the callback_url's host did not resolve", ['callback'], true, "the callback_url's host did not resolve at sending"),
  CallbackConnection: recorded('DSR_CALLBACK_CONNECTION', 'the connection to the receiver failed', ['callback'], true, 'the connection to the callback receiver failed, was reset, or timed out'),
  CallbackRateLimited: recorded('DSR_CALLBACK_RATE_LIMITED', 'the receiver answered 429', ['callback'], true, 'the callback receiver answered 429 (its `Retry-After` is honoured)'),
  CallbackTimeout: recorded('DSR_CALLBACK_TIMEOUT', 'the receiver answered 408', ['callback'], true, 'the callback receiver answered 408'),
  CallbackReceiverError: recorded('DSR_CALLBACK_RECEIVER_ERROR', 'the receiver answered 5xx', ['callback'], true, 'the callback receiver answered 5xx'),
  CallbackRedirect: recorded('DSR_CALLBACK_REDIRECT', 'the receiver redirected', ['callback'], false, 'the callback receiver answered with a redirect (never followed)'),
  CallbackRejected: recorded('DSR_CALLBACK_REJECTED', 'the receiver refused the callback', ['callback'], false, 'the callback receiver answered another 4xx'),
  CallbackInternal: recorded('DSR_CALLBACK_INTERNAL', 'unexpected error while sending', ['callback'], true, 'an unexpected fault while sending a callback'),
  AuditContentChanged: recorded('DSR_AUDIT_CONTENT_CHANGED', 'an audit event changed', ['audit_report'], null,
    'a sealed audit event no longer hashes as it did when it was sealed (edited in the database)'),
  AuditEventMissing: recorded('DSR_AUDIT_EVENT_MISSING', 'a sealed audit event is gone', ['audit_report'], null, 'an audit event the chain sealed was deleted (or its request was)'),
  AuditLinkMissing: recorded('DSR_AUDIT_LINK_MISSING', 'a link of the audit chain is gone', ['audit_report'], null, 'a position of the audit chain has no link (a link row was deleted)'),
  AuditLinkChanged: recorded('DSR_AUDIT_LINK_CHANGED', 'a link of the audit chain does not follow from the one before', ['audit_report'], null,
    "a link's hash does not follow from the previous link of the chain or of its request (a link was edited, or one of the request's was deleted)"),
  AuditHeadMismatch: recorded('DSR_AUDIT_HEAD_MISMATCH', 'the audit chain differs from a signed head', ['audit_report'], null,
    'the chain at a signed head\'s position is not what was signed (the chain was rewritten, or cut short)'),
  AuditSignatureInvalid: recorded('DSR_AUDIT_SIGNATURE_INVALID', 'the signed head does not verify', ['audit_report'], null,
    "the latest signed head's signature does not verify with the receipt keys, or its columns are not what it signed")
} as const

/**
 * The codes connectors fail with (the contract's `ConnectorErrorCodes`, thrown as `ConnectorError`):
 * recorded on the task. Whether a failure is retried is the connector's to say on each error; the
 * column gives what the shared helpers (`httpError`) say.
 */
const CONNECTOR_WHEN: Record<keyof typeof ConnectorErrorCodes, [boolean, string]> = {
  RateLimited: [true, 'the system answered 429 (its `Retry-After` is honoured)'],
  Unavailable: [true, 'the system answered 5xx, or is down'],
  Timeout: [true, 'the system did not answer in time, or the task lost its lease'],
  Network: [true, 'the system could not be reached'],
  Auth: [false, "the system refused the connector's credentials (401/403)"],
  Config: [false, 'the connector is set up wrongly for the system (e.g. a 404 on its base path)'],
  BadRequest: [false, "the system rejected the connector's call (another 4xx)"],
  Internal: [true, 'an unexpected fault inside the connector'],
  RectifyValueRejected: [false, 'the system refused a new value of a rectification, or it was refused before any call'],
  RectifyEmailConflict: [false, "the new e-mail address is another record's in the system: merge them first"],
  RectifyAdditionalEmail: [false, "the old address stays on the record where the system's API cannot change it: a person replaces it, then retries the task"],
  RectifyNotApplied: [true, 'the system accepted a rectification but the record read back does not hold it']
}
for (const [name, code] of Object.entries(ConnectorErrorCodes) as Array<[keyof typeof ConnectorErrorCodes, string]>) {
  const [retryable, when] = CONNECTOR_WHEN[name]
  catalogue.push({ code, status: null, on: ['task'], retryable, when })
}

/** Every code of the catalogue, in the order above. */
export const ERROR_CATALOGUE: readonly CatalogueEntry[] = catalogue

/** The README's table of error codes, made from the catalogue (`npm run docs:errors` writes it; a test compares). */
export function errorTable (): string {
  const rows = [...catalogue].sort((a, b) => (a.status ?? 999) - (b.status ?? 999) || a.code.localeCompare(b.code))
    .map((e) => `| \`${e.code}\` | ${e.status ?? '—'} | ${e.on.join(', ') || '—'} | ${e.retryable === null ? '—' : e.retryable ? 'yes' : 'no'} | ${e.when} |`)
  return ['| code | HTTP status | recorded on | retried | when |', '| --- | --- | --- | --- | --- |', ...rows].join('\n')
}

/** The catalogue's entry of a code; undefined for a code that is not one of ours. */
export function catalogued (code: string): CatalogueEntry | undefined {
  return byCode.get(code)
}
const byCode = new Map(catalogue.map((e) => [e.code, e]))

/** One offending field of a 4xx: a JSON pointer into the request part, and what is wrong with it. */
export interface ErrorDetail { in: 'body' | 'querystring' | 'params' | 'headers', field: string, message: string }

/** A validation failure raised by a service (beyond what the schema can say), with named fields. */
export function validationError (details: ErrorDetail[]): Error & { details: ErrorDetail[] } {
  const err = new Errors.ValidationFailed(details.map((d) => `${d.field} ${d.message}`).join('; '))
  return Object.assign(err, { details })
}

/** The RFC 9457 problem type of a code: a URI relative to the service, whose page (GET /errors/{code}) describes the code. */
export function problemType (code: string): string {
  return `/errors/${code}`
}

/** The RFC 9457 title of a code: its words, the same for every occurrence (DSR_REQUEST_NOT_FOUND → "Request not found"). */
export function problemTitle (code: string): string {
  const words = code.replace(/^DSR_/, '').toLowerCase().replace(/_/g, ' ')
  return words.charAt(0).toUpperCase() + words.slice(1)
}
