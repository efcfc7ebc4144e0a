import createError from '@fastify/error'

/** One code of the catalogue: its HTTP status, and when it is answered (the README's table). */
export interface CatalogueEntry { code: string, status: number, when: string }

const catalogue: CatalogueEntry[] = []

/** An error class of the catalogue, with its code recorded for the README's table (errorTable). */
function entry<Arg extends unknown[] = [any?, any?, any?]> (code: string, message: string, status: number, when: string) {
  catalogue.push({ code, status, when })
  return createError<Arg>(code, message, status)
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
  PayloadTooLarge: entry('DSR_PAYLOAD_TOO_LARGE', 'The request body is larger than the service accepts', 413, 'the body is over `BODY_LIMIT_BYTES`'),
  Unauthenticated: entry('DSR_UNAUTHENTICATED', 'A valid API key is required (Authorization: Bearer <key>)', 401, 'no API key, or an unknown one'),
  Forbidden: entry<[string]>('DSR_FORBIDDEN', 'This API key lacks the scope %s', 403, "the key lacks the route's scope"),
  RouteNotFound: entry<[string, string]>('DSR_ROUTE_NOT_FOUND', 'No route %s %s', 404, 'no route has this method and path'),
  RequestNotFound: entry<[string]>('DSR_REQUEST_NOT_FOUND', 'No request with id %s', 404, 'no request has this id'),
  IdempotencyKeyReused: entry(
    'DSR_IDEMPOTENCY_KEY_REUSED',
    'This Idempotency-Key was already used with a different request body', 422, 'an Idempotency-Key reused with a different body'),
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
  InvalidCursor: entry('DSR_INVALID_CURSOR', 'The pagination cursor is not one this service issued', 400, 'a pagination cursor this service did not issue'),
  ArchiveNotReady: entry('DSR_ARCHIVE_NOT_READY', 'The request has no ready archive', 409, "the request's archive is not ready (not completed yet, being built, or failed): download, link or direct transfer"),
  ArchiveExpired: entry('DSR_ARCHIVE_EXPIRED', 'The archive was deleted when its retention period ended', 410, 'the archive was deleted by retention'),
  RangeNotSatisfiable: entry<[number]>('DSR_RANGE_NOT_SATISFIABLE', 'The range lies outside the archive (%d bytes)', 416, 'a `Range` past the end of the archive'),
  LinkUnsigned: entry('DSR_LINK_UNSIGNED', 'A download link needs its exp and sig parameters', 401, 'an archive link without its `exp` and `sig`'),
  LinkInvalid: entry('DSR_LINK_INVALID', 'This download link is not valid', 403, 'an archive link with a wrong signature'),
  LinkExpired: entry('DSR_LINK_EXPIRED', 'This download link has expired', 403, 'an archive link past its expiry'),
  LinkRevoked: entry('DSR_LINK_REVOKED', 'This download link was revoked', 403, 'an archive link that was revoked'),
  LinkNotFound: entry<[string]>('DSR_LINK_NOT_FOUND', 'No download link %s on this request', 404, 'revoking a link the request does not have'),
  TransferNotFound: entry<[string]>('DSR_TRANSFER_NOT_FOUND', 'No transfer %s on this request', 404, 'the request has no transfer with this id'),
  TransferDestinationNotAllowed: entry<[string]>('DSR_TRANSFER_DESTINATION_NOT_ALLOWED', '%s', 422, 'the destination is not in `TRANSFER_ALLOWLIST`, or resolves to a non-public address'),
  TransferDestinationUnresolvable: entry<[string]>(
    'DSR_TRANSFER_DESTINATION_UNRESOLVABLE', 'The destination host %s does not resolve to any address', 422, "the destination's host does not resolve"),
  TransferAuthNotConfigured: entry(
    'DSR_TRANSFER_AUTH_NOT_CONFIGURED',
    'An authorization can be kept only encrypted at rest, and this deployment has no TRANSFER_SECRET_KEY', 422, 'an `authorization` was given but `TRANSFER_SECRET_KEY` is not set'),
  ConnectorNotFound: entry<[string]>('DSR_CONNECTOR_NOT_FOUND', 'No connector %s in this deployment', 404, 'no connector has this id in this deployment'),
  RetentionNotConfigured: entry<[string]>('DSR_RETENTION_NOT_CONFIGURED', 'Connector %s has no retention rules', 409, 'sweeping a connector that has no retention rules'),
  Internal: entry('DSR_INTERNAL', 'Internal error', 500, 'a fault of the service; never carries internals'),
  Unavailable: entry('DSR_UNAVAILABLE', 'The service is not ready', 503, 'the service is starting, stopping, or cannot reach its database'),
  LinkSuperseded: entry('DSR_LINK_SUPERSEDED', 'The archive this link was made for has been replaced by a newer one; ask for a new link', 410, 'an archive link made for an archive that a rebuild has replaced'),
  ArchiveNotRebuildable: entry<[string]>('DSR_ARCHIVE_NOT_REBUILDABLE', 'Only a failed or expired archive of a closed access or portability request can be rebuilt: %s', 409, 'rebuilding an archive that is ready or building, or of a request that has none'),
  ArchiveItemsSwept: entry(
    'DSR_ARCHIVE_ITEMS_SWEPT', 'Retention deleted the data collected for this request: its archive cannot be rebuilt; run the request again', 409, 'rebuilding an archive whose collected items retention already deleted'),
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
    "The request's identifiers were removed, so the systems can no longer find the person's records: lift the restriction in them directly", 409, "lifting after the request's identifiers were removed: the systems can no longer find the records")
} as const

/** Every code of the catalogue, in the order above. */
export const ERROR_CATALOGUE: readonly CatalogueEntry[] = catalogue

/** The README's table of error codes, made from the catalogue (`npm run docs:errors` writes it; a test compares). */
export function errorTable (): string {
  const rows = [...catalogue].sort((a, b) => a.status - b.status || a.code.localeCompare(b.code))
    .map((e) => `| \`${e.code}\` | ${e.status} | ${e.when} |`)
  return ['| code | status | when |', '| --- | --- | --- |', ...rows].join('\n')
}

/** One offending field of a 4xx: a JSON pointer into the request part, and what is wrong with it. */
export interface ErrorDetail { in: 'body' | 'querystring' | 'params' | 'headers', field: string, message: string }

/** A validation failure raised by a service (beyond what the schema can say), with named fields. */
export function validationError (details: ErrorDetail[]): Error & { details: ErrorDetail[] } {
  const err = new Errors.ValidationFailed(details.map((d) => `${d.field} ${d.message}`).join('; '))
  return Object.assign(err, { details })
}
