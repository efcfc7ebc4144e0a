import createError from '@fastify/error'

/**
 * The error catalogue. Every error the API returns carries one of these stable codes;
 * clients switch on `code`, never on `message`.
 */
export const Errors = {
  ValidationFailed: createError<[string]>('DSR_VALIDATION_FAILED', '%s', 400),
  InvalidJson: createError('DSR_INVALID_JSON', 'The request body is not valid JSON', 400),
  EmptyBody: createError('DSR_EMPTY_BODY', 'The request body is empty', 400),
  UnsupportedMediaType: createError('DSR_UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/json', 415),
  PayloadTooLarge: createError('DSR_PAYLOAD_TOO_LARGE', 'The request body is larger than the service accepts', 413),
  Unauthenticated: createError('DSR_UNAUTHENTICATED', 'A valid API key is required (Authorization: Bearer <key>)', 401),
  Forbidden: createError<[string]>('DSR_FORBIDDEN', 'This API key lacks the scope %s', 403),
  RouteNotFound: createError<[string, string]>('DSR_ROUTE_NOT_FOUND', 'No route %s %s', 404),
  RequestNotFound: createError<[string]>('DSR_REQUEST_NOT_FOUND', 'No request with id %s', 404),
  IdempotencyKeyReused: createError(
    'DSR_IDEMPOTENCY_KEY_REUSED',
    'This Idempotency-Key was already used with a different request body', 422),
  IllegalTransition: createError<[string, string]>('DSR_ILLEGAL_TRANSITION', 'A request in status %s cannot move to %s', 409),
  ExtensionNotAvailable: createError<[string]>(
    'DSR_EXTENSION_NOT_AVAILABLE', 'Requests under %s have no statutory deadline extension', 422),
  ExtensionAlreadyTaken: createError(
    'DSR_EXTENSION_ALREADY_TAKEN', 'The deadline of this request was already extended; an extension is taken once', 409),
  ExtensionRequestClosed: createError<[string]>(
    'DSR_EXTENSION_REQUEST_CLOSED', 'A request in status %s is closed; its deadline can no longer be extended', 409),
  ExtensionTooLate: createError<[string]>(
    'DSR_EXTENSION_TOO_LATE',
    'The statutory deadline (%s) has passed: an extension must be taken, and the person told, within the first period', 409),
  ExtensionNotTaken: createError(
    'DSR_EXTENSION_NOT_TAKEN', 'The deadline of this request was not extended: there is no extension to tell the person of', 409),
  ExtensionNoticeRecorded: createError(
    'DSR_EXTENSION_NOTICE_ALREADY_RECORDED', 'When the person was told of the extension is already on record', 409),
  TaskNotFound: createError<[string]>('DSR_TASK_NOT_FOUND', 'No task %s on this request', 404),
  IllegalTaskAction: createError<[string, string]>('DSR_ILLEGAL_TASK_ACTION', 'Cannot %s a task that is %s', 409),
  InvalidCursor: createError('DSR_INVALID_CURSOR', 'The pagination cursor is not one this service issued', 400),
  ArchiveNotReady: createError('DSR_ARCHIVE_NOT_READY', 'The request has no ready archive', 409),
  ArchiveExpired: createError('DSR_ARCHIVE_EXPIRED', 'The archive was deleted when its retention period ended', 410),
  RangeNotSatisfiable: createError<[number]>('DSR_RANGE_NOT_SATISFIABLE', 'The range lies outside the archive (%d bytes)', 416),
  LinkUnsigned: createError('DSR_LINK_UNSIGNED', 'A download link needs its exp and sig parameters', 401),
  LinkInvalid: createError('DSR_LINK_INVALID', 'This download link is not valid', 403),
  LinkExpired: createError('DSR_LINK_EXPIRED', 'This download link has expired', 403),
  LinkRevoked: createError('DSR_LINK_REVOKED', 'This download link was revoked', 403),
  LinkNotFound: createError<[string]>('DSR_LINK_NOT_FOUND', 'No download link %s on this request', 404),
  TransferNotFound: createError<[string]>('DSR_TRANSFER_NOT_FOUND', 'No transfer %s on this request', 404),
  TransferDestinationNotAllowed: createError<[string]>('DSR_TRANSFER_DESTINATION_NOT_ALLOWED', '%s', 422),
  TransferDestinationUnresolvable: createError<[string]>(
    'DSR_TRANSFER_DESTINATION_UNRESOLVABLE', 'The destination host %s does not resolve to any address', 422),
  TransferAuthNotConfigured: createError(
    'DSR_TRANSFER_AUTH_NOT_CONFIGURED',
    'An authorization can be kept only encrypted at rest, and this deployment has no TRANSFER_SECRET_KEY', 422),
  ConnectorNotFound: createError<[string]>('DSR_CONNECTOR_NOT_FOUND', 'No connector %s in this deployment', 404),
  RetentionNotConfigured: createError<[string]>('DSR_RETENTION_NOT_CONFIGURED', 'Connector %s has no retention rules', 409),
  Internal: createError('DSR_INTERNAL', 'Internal error', 500),
  Unavailable: createError('DSR_UNAVAILABLE', 'The service is not ready', 503),
  LinkSuperseded: createError('DSR_LINK_SUPERSEDED', 'The archive this link was made for has been replaced by a newer one; ask for a new link', 410),
  ArchiveNotRebuildable: createError<[string]>('DSR_ARCHIVE_NOT_REBUILDABLE', 'Only a failed or expired archive of a closed access or portability request can be rebuilt: %s', 409),
  ArchiveItemsSwept: createError(
    'DSR_ARCHIVE_ITEMS_SWEPT', 'Retention deleted the data collected for this request: its archive cannot be rebuilt; run the request again', 409),
  ReceiptNotAvailable: createError<[string]>('DSR_RECEIPT_NOT_AVAILABLE', 'No erasure receipt: %s', 409),
  RestoreConnectorInvalid: createError<[string]>(
    'DSR_RESTORE_CONNECTOR_INVALID', 'No connector %s able to erase in this deployment: nothing can be erased again in it', 422),
  RestoreNotFound: createError<[string]>('DSR_RESTORE_NOT_FOUND', 'No backup restore with id %s', 404),
  RestrictionNotPlaced: createError<[string]>('DSR_RESTRICTION_NOT_PLACED', 'There is no restriction to lift: %s', 409),
  RestrictionNotCompleted: createError<[string]>(
    'DSR_RESTRICTION_NOT_COMPLETED', 'A restriction is lifted once its request has completed; this one is %s', 409),
  RestrictionAlreadyLifted: createError('DSR_RESTRICTION_ALREADY_LIFTED', 'This restriction was already lifted; a restriction is lifted once', 409),
  RestrictionSubjectRedacted: createError(
    'DSR_RESTRICTION_SUBJECT_REDACTED',
    "The request's identifiers were removed, so the systems can no longer find the person's records: lift the restriction in them directly", 409)
} as const

/** One offending field of a 4xx: a JSON pointer into the request part, and what is wrong with it. */
export interface ErrorDetail { in: 'body' | 'querystring' | 'params' | 'headers', field: string, message: string }

/** A validation failure raised by a service (beyond what the schema can say), with named fields. */
export function validationError (details: ErrorDetail[]): Error & { details: ErrorDetail[] } {
  const err = new Errors.ValidationFailed(details.map((d) => `${d.field} ${d.message}`).join('; '))
  return Object.assign(err, { details })
}
