import type { Readable } from 'node:stream'
import type { Static, TSchema } from 'typebox'

/**
 * The connector contract. A connector reaches one system that holds personal data. It declares
 * what it can do and which data categories (streams) it holds, and implements those actions as
 * async generators so that nothing ever buffers a whole person's data.
 */

export const CAPABILITIES = ['collect', 'erase', 'rectify', 'restrict', 'opt_out', 'retention'] as const
export type Capability = typeof CAPABILITIES[number]

/**
 * What a task asks a connector to do: a capability, or `unrestrict`, which lifts what `restrict`
 * placed (a connector declaring 'restrict' implements both, so it is not a capability of its own).
 */
export const TASK_ACTIONS = [...CAPABILITIES, 'unrestrict'] as const
export type TaskAction = typeof TASK_ACTIONS[number]

/** What the engine knows about the person. Connectors use what they can match on. */
export interface SubjectIdentity {
  email?: string
  phone?: string
  customer_id?: string
  account_id?: string
  external_ids?: Array<{ system: string, id: string }>
  email_sha256?: string
  phone_sha256?: string
}

/** Minimal structured logger (pino-compatible). Connectors never log item data or identifiers. */
export interface ConnectorLogger {
  debug (obj: object, msg?: string): void
  info (obj: object, msg?: string): void
  warn (obj: object, msg?: string): void
  error (obj: object, msg?: string): void
}

export interface ConnectorContext {
  /** Our request id: for log correlation and vendor idempotency keys. */
  requestId: string
  subject: SubjectIdentity
  /** Aborted on task timeout or shutdown: pass it to every I/O call. */
  signal: AbortSignal
  log: ConnectorLogger
  /**
   * Streams an erasure must leave as they are (a legal hold on the person), each with what to report:
   * a connector that can keep single streams (`skipsStreams`) yields `retained` with these fields for
   * each it holds records in, and erases the rest. Absent or empty: erase everything, as always.
   */
  retain?: readonly RetainedStream[]
  /**
   * Which customer accounts' records the action may touch, for a connector whose `identify` reports
   * accounts (FoundIdentity.account): `only` those (a managed account's part, instructed by its
   * administrator), or every record but those of the accounts in `except` (the company's own part,
   * while the managed accounts' parts wait for their administrators). Absent: every record, as always.
   * A connector that reports accounts must honour it; one that does not never sees it set.
   */
  accounts?: AccountScope
}

/** The customer accounts a task is limited to (ConnectorContext.accounts). */
export type AccountScope = { only: readonly string[] } | { except: readonly string[] }

/** A stream kept by an erasure for a legal reason: the reason as read, the ground code, the hold's reference. */
export interface RetainedStream { stream: string, reason: string, ground: string, reference: string }

export type CollectedItem =
  | { type: 'record', stream: string, key: string, data: Record<string, unknown> }
  | { type: 'file', stream: string, key: string, name: string, contentType: string, open: () => Promise<Readable> }

/**
 * A record of a person that the subject's identifiers led to (`identify`): the identifiers that
 * record holds, and the name it gives, where it has one. Personal data like the subject itself:
 * the engine keeps it with the request and never logs it.
 */
export interface FoundIdentity {
  /** The stream the record is in. */
  stream: string
  /** What the record identifies its person by (e.g. the e-mail address beside the phone number asked for). */
  identifiers: SubjectIdentity
  /** The person's name as the record holds it, when it does. */
  name?: string
  /** The customer account the record belongs to, when the system keeps records per account (and this one has one). */
  account?: string
}

export type EraseOutcome =
  | { status: 'erased', stream: string, count: number }
  | { status: 'not_found', stream: string }
  | { status: 'deferred', stream: string, externalRef: string }
  /**
   * Kept, with the legal or technical reason, so the person can be told and can follow up; `count`
   * where known. `ground`: the code of the legal ground (src/domain/hold-grounds.ts) where one is
   * named; `reference`: the legal hold's reference; `review`: when the keeping is to be reviewed, as
   * an ISO 8601 duration from the erasure.
   */
  | { status: 'retained', stream: string, reason: string, count?: number, ground?: string, reference?: string, review?: string }

/**
 * The purposes an opt-out stops, as the service names them: `marketing` (direct marketing),
 * `partner_sharing` (passing the person's data to partners for their own use), `profiling`
 * (analysing their behaviour to tailor what they get). Transactional messages are never one of them.
 */
export const OPT_OUT_PURPOSE_NAMES = ['marketing', 'partner_sharing', 'profiling'] as const
export type OptOutPurposeName = typeof OPT_OUT_PURPOSE_NAMES[number]

/** What an opt-out is asked to stop (`optOut`): at least one purpose, each once. */
export interface OptOutContext extends ConnectorContext {
  purposes: readonly OptOutPurposeName[]
}

/**
 * What an opt-out did in one stream (capability `opt_out`). `opted_out`: the subject's records there
 * now say the person opted out of `purposes` (those of the request this stream can stop), `count`
 * how many records changed (0 on a re-run). `not_supported`: this stream holds the person, but the
 * system has no way to stop `purposes` there; the engine reports them for a person to handle.
 */
export type OptOutOutcome =
  | { status: 'opted_out', stream: string, count: number, purposes: OptOutPurposeName[] }
  | { status: 'not_found', stream: string }
  | { status: 'not_supported', stream: string, purposes: OptOutPurposeName[], reason: string }

/**
 * What placing (`restrict`) or lifting (`unrestrict`) a restriction of processing did in one stream
 * (capability `restrict`). `restricted`/`unrestricted` mean the subject's records there are now
 * marked/unmarked, `count` how many changed (0 on a re-run); `not_found` that the subject has none.
 */
export type RestrictOutcome =
  | { status: 'restricted' | 'unrestricted', stream: string, count: number }
  | { status: 'not_found', stream: string }

/** What a rectification did in one stream (capability `rectify`). */
export type RectifyOutcome =
  /** `reason` says what was left unchanged and why (e.g. fields this system does not hold). */
  | { status: 'rectified', stream: string, count: number, reason?: string }
  | { status: 'not_found', stream: string }

export type HealthResult =
  | { status: 'ok', latencyMs: number }
  | { status: 'down', message: string, retryable: boolean }

export interface StreamInfo {
  name: string
  description: string
  /** Data categories in this stream (e.g. contact, financial, health), shown to the person. */
  categories: readonly string[]
  /**
   * The retention the system itself enforces on this stream, when it does (a driver's retention rule):
   * its age as an ISO 8601 duration, the timestamp it counts from, and what happens then.
   */
  enforcedRetention?: { maxAge: string, from: string, action: 'delete' | 'null_columns' }
  /**
   * What the connector's erasure leaves of this stream, when it is not erased: `retain` with the
   * reason (records the system's erasure API does not remove). Used by an erasure preview built
   * from collected counts; streams without it are erased.
   */
  onErase?: { action: 'retain', reason: string }
}

/**
 * Whether the system can be searched again after it erased a person, so that the engine can check
 * that nothing of them is left (beyond what the erasure said it retained, with its reason).
 * `searchable: true` needs `collect`; `settleMs` is how long the system's search may still show a
 * record after it was erased (a search index that lags, say): a check that finds something waits
 * that long before searching again (ERASURE_CHECK_ATTEMPTS searches in all). `searchable: false`
 * says why not; the receipt then says that system was not verifiable.
 */
export type ErasureCheck =
  | { searchable: true, settleMs: number }
  | { searchable: false, reason: string }

/**
 * What an erasure would do in one stream, counted without changing anything: records `erase`d
 * (deleted), `mask`ed (columns blanked, set or hashed, the record kept), `retain`ed (kept, for the
 * `reasons` given). Counts only, never values.
 */
export interface ErasePreview {
  stream: string
  erase: number
  mask: number
  retain: number
  reasons: string[]
}

/** What one retention sweep did (or, in a dry run, would do): row counts per table, never values. */
export interface RetentionSweepResult {
  tables: Record<string, { action: 'delete' | 'null_columns', rows: number, cutoff: string }>
}

export interface Connector {
  /**
   * Whether `erase` honours `ctx.retain`, keeping single streams. Without it a legal hold on some of
   * the system's streams keeps the whole system: the engine then does not call `erase` at all.
   */
  readonly skipsStreams?: boolean
  /**
   * Whether `identify` says which customer account a record belongs to (FoundIdentity.account), and
   * the actions honour ConnectorContext.accounts. Requests are then checked before they are planned
   * (IDENTITY_CHECK auto), so that a managed account's end user waits for their administrator.
   */
  readonly reportsAccounts?: boolean
  /** Cheap, bounded in time (honours `signal`), no side effects. */
  health (opts: { signal: AbortSignal }): Promise<HealthResult>
  /**
   * Enforces the connector's retention rules (capability 'retention'): removes or blanks what is
   * older than each rule allows, as of `now`. With `dryRun` it only counts what it would touch.
   * Returns counts per table, never values. Honours `signal`.
   */
  sweep? (opts: { dryRun: boolean, now: Date, signal: AbortSignal }): Promise<RetentionSweepResult>
  /** Required when 'collect' is declared. Yields only declared streams. */
  collect? (ctx: ConnectorContext): AsyncIterable<CollectedItem>
  /**
   * The records of people the subject's identifiers lead to, each with the identifiers it holds:
   * only records that match by an identifier of their own (not rows reached through another
   * record). Optional, and no capability: the engine uses it before a request's tasks, to search
   * the other systems with what was found (enrichment) and to hold a request whose identifiers lead
   * to different people (the wrong-person guard). Changes nothing; bounded (a few records per stream).
   */
  identify? (ctx: ConnectorContext): Promise<FoundIdentity[]>
  /** Required when 'erase' is declared. Idempotent: a re-run yields `not_found` for what is gone. */
  erase? (ctx: ConnectorContext): AsyncIterable<EraseOutcome>
  /**
   * The dry run of `erase` (like `sweep`'s `dryRun`): counts per stream what `erase` would erase,
   * mask and retain, and changes nothing (a database connector runs its erasure in a transaction it
   * rolls back). Optional: without it, a preview counts what `collect` finds and applies the
   * streams' `onErase`. A separate method rather than a flag on `erase`, so that a connector that
   * does not know of dry runs can never erase when asked for one.
   */
  previewErase? (ctx: ConnectorContext): Promise<ErasePreview[]>
  /**
   * Required when 'opt_out' is declared: stop the request's `purposes` for the person (e.g. unsubscribe
   * them from marketing) while keeping the record, so the opt-out itself is remembered. Never deletes,
   * never touches what other purposes (or transactional messages) rely on. Says per stream which
   * purposes it stopped, and which it cannot (`not_supported`). Idempotent: a re-run yields
   * `opted_out` with count 0 or `not_found`.
   */
  optOut? (ctx: OptOutContext): AsyncIterable<OptOutOutcome>
  /**
   * Required when 'rectify' is declared: sets the given fields (system field name → new value) on the
   * subject's records. Idempotent: a re-run sets the same values again.
   */
  rectify? (ctx: ConnectorContext & { changes: Record<string, string> }): AsyncIterable<RectifyOutcome>
  /**
   * Required (with `unrestrict`) when 'restrict' is declared: restriction of processing (GDPR Art 18),
   * which the ICO describes as marking the stored data so that it is not processed further. Marks
   * the subject's records, and only theirs, without changing or deleting anything else. Idempotent:
   * a re-run yields `restricted` with count 0 (or `not_found`).
   */
  restrict? (ctx: ConnectorContext): AsyncIterable<RestrictOutcome>
  /**
   * Required when 'restrict' is declared: lifts the mark `restrict` placed on the subject's records
   * (the engine asks only after the person was told, Art 18(3)). Idempotent, like `restrict`.
   */
  unrestrict? (ctx: ConnectorContext): AsyncIterable<RestrictOutcome>
  close? (): Promise<void>
}

/**
 * Each task action: the capability a connector declares for it, the method that carries it out, and
 * the methods it must implement to have it (restriction is placed and lifted, so it needs both). The
 * one table the registry checks drivers against, the planner plans from, and the runner runs by.
 */
export const ACTIONS = {
  collect: { capability: 'collect', does: 'collect', requires: ['collect'] },
  erase: { capability: 'erase', does: 'erase', requires: ['erase'] },
  rectify: { capability: 'rectify', does: 'rectify', requires: ['rectify'] },
  restrict: { capability: 'restrict', does: 'restrict', requires: ['restrict', 'unrestrict'] },
  unrestrict: { capability: 'restrict', does: 'unrestrict', requires: ['restrict', 'unrestrict'] },
  opt_out: { capability: 'opt_out', does: 'optOut', requires: ['optOut'] },
  retention: { capability: 'retention', does: 'sweep', requires: ['sweep'] }
} as const satisfies Record<TaskAction, { capability: Capability, does: keyof Connector, requires: ReadonlyArray<keyof Connector> }>

/** The methods a connector must implement to have `capability` (those of every action that needs it). */
export function methodsFor (capability: Capability): ReadonlyArray<keyof Connector> {
  const methods = Object.values(ACTIONS).filter((a) => a.capability === capability).flatMap((a) => a.requires)
  return [...new Set(methods)]
}

/** Whether `connector` implements what `action` needs (a declared capability may depend on settings). */
export function implementsAction (connector: Connector, action: TaskAction): boolean {
  return ACTIONS[action].requires.every((m) => typeof connector[m] === 'function')
}

export interface ConnectorDeps {
  log: ConnectorLogger
  fetch: typeof fetch
  /** The service's own database, for connectors configured with `embedded:` (the sample systems). */
  serviceDatabase?: ServiceDatabase
}

/**
 * The service's own database as a connector may use it: the client its pool is built on. Declared
 * here, not taken from the service, so that the connector contract depends on nothing of it.
 */
export type ServiceDatabase =
  | { kind: 'postgres', sql: import('postgres').Sql }
  | { kind: 'pglite', pg: import('@electric-sql/pglite').PGlite }

export interface ConnectorDefinition<S extends TSchema = TSchema> {
  /** Driver name used in the connector file (`driver: postgres`), stable forever. */
  driver: string
  displayName: string
  /** Bump when the shape of emitted records changes. */
  version: number
  capabilities: readonly Capability[]
  /** Whether an erasure can be checked by searching the system again (required of every driver: see ErasureCheck). */
  erasureCheck: ErasureCheck
  /**
   * The capabilities a connector with these settings has, when some depend on them (e.g. 'restrict'
   * only where a table says how to mark rows); a subset of `capabilities`, which lists all it may have.
   */
  capabilitiesFor? (config: Static<S>): readonly Capability[]
  /** Declared streams; a driver whose streams depend on its settings derives them in `streamsFor`. */
  streams: readonly StreamInfo[]
  streamsFor? (config: Static<S>): readonly StreamInfo[]
  configSchema: S
  /** Top-level settings that hold secrets: they must come from the environment, and are redacted. */
  secretFields: readonly string[]
  create (config: Static<S>, deps: ConnectorDeps): Connector | Promise<Connector>
}

/**
 * A connector error. The engine decides whether to retry from `retryable` (never from the
 * message), and honours `retryAfterMs` when the system said how long to wait.
 */
export class ConnectorError extends Error {
  override name = 'ConnectorError'
  readonly code: string
  readonly retryable: boolean
  readonly retryAfterMs: number | undefined

  constructor (code: string, message: string, opts: { retryable: boolean, retryAfterMs?: number, cause?: unknown }) {
    super(message, { cause: opts.cause })
    this.code = code
    this.retryable = opts.retryable
    this.retryAfterMs = opts.retryAfterMs
  }
}

/** Stable codes for connector failures (the service's catalogue, src/errors.ts, documents each). */
export const ConnectorErrorCodes = {
  RateLimited: 'DSR_CONNECTOR_RATE_LIMITED',
  Unavailable: 'DSR_CONNECTOR_UNAVAILABLE',
  Timeout: 'DSR_CONNECTOR_TIMEOUT',
  Network: 'DSR_CONNECTOR_NETWORK',
  Auth: 'DSR_CONNECTOR_AUTH',
  Config: 'DSR_CONNECTOR_CONFIG',
  BadRequest: 'DSR_CONNECTOR_BAD_REQUEST',
  Internal: 'DSR_CONNECTOR_INTERNAL',
  /** A rectification's new value was refused by the system, or before any call. */
  RectifyValueRejected: 'DSR_RECTIFY_VALUE_REJECTED',
  /** A rectification's new e-mail address is another record's in the system. */
  RectifyEmailConflict: 'DSR_RECTIFY_EMAIL_CONFLICT',
  /** The old address stays where the system's API cannot change it: a person must replace it. */
  RectifyAdditionalEmail: 'DSR_RECTIFY_ADDITIONAL_EMAIL',
  /** The system accepted a rectification, but the record read back does not hold it. */
  RectifyNotApplied: 'DSR_RECTIFY_NOT_APPLIED'
} as const

/** Classifies an HTTP status the way every vendor connector should. */
export function httpError (status: number, message: string, retryAfterHeader?: string | null): ConnectorError {
  const retryAfterMs = parseRetryAfter(retryAfterHeader)
  if (status === 429) return new ConnectorError(ConnectorErrorCodes.RateLimited, message, { retryable: true, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) })
  if (status >= 500) return new ConnectorError(ConnectorErrorCodes.Unavailable, message, { retryable: true, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) })
  if (status === 401 || status === 403) return new ConnectorError(ConnectorErrorCodes.Auth, message, { retryable: false })
  if (status === 404) return new ConnectorError(ConnectorErrorCodes.Config, message, { retryable: false })
  if (status === 408) return new ConnectorError(ConnectorErrorCodes.Timeout, message, { retryable: true })
  return new ConnectorError(ConnectorErrorCodes.BadRequest, message, { retryable: false })
}

/** Retry-After as delta-seconds or an HTTP date, in milliseconds from now. */
export function parseRetryAfter (value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

/** Declares a connector with its types checked. */
export function defineConnector<S extends TSchema> (def: ConnectorDefinition<S>): ConnectorDefinition<S> {
  return def
}
