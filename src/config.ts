import { createPrivateKey, type JsonWebKey, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { Type, type Static } from 'typebox'
import { Value } from 'typebox/value'
import { parseApprovalPolicy } from './domain/approval.js'
import { parseDuplicatePolicy } from './domain/duplicates.js'
import { systemResolver } from './transfers/addresses.js'
import { shownValue } from './config-secrets.js'
import { singleUrlTarget } from './transfers/outbound.js'
import { hasUserinfo, parseStorageUrl } from './storage/storage-url.js'
import { openDsrSigner } from './opendsr/signing.js'

/**
 * Every setting the service reads from its environment, validated once at boot.
 * The type is derived from the schema so the two cannot drift apart.
 */
export const EnvSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  HOST: Type.String({ minLength: 1, default: '0.0.0.0' }),
  /**
   * The proxies in front of the service whose X-Forwarded-For is believed, so that a client's own
   * address is the one limited and logged (the privacy centre's PRIVACY_RATE_LIMIT_PER_IP): `true`
   * for any, a number of hops, or comma-separated addresses and CIDR ranges. Unset: none.
   */
  TRUST_PROXY: Type.Optional(Type.String({ pattern: '^(true|[0-9]{1,2}|[0-9A-Fa-f.:/]+(\\s*,\\s*[0-9A-Fa-f.:/]+)*)$' })),
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  DATA_DIR: Type.String({ minLength: 1, default: '.data' }),
  MIGRATE_ON_START: Type.Optional(Type.Boolean()),
  /** How long start-up waits for an unreachable database (a restart, a short outage) before it gives up. */
  DATABASE_START_WAIT_SECONDS: Type.Integer({ minimum: 0, maximum: 3600, default: 60 }),
  LOG_LEVEL: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),
  API_KEYS: Type.Optional(Type.String({ minLength: 1 })),
  API_KEYS_FILE: Type.Optional(Type.String({ minLength: 1 })),
  PIPL_RESPONSE_DAYS: Type.Integer({ minimum: 1, maximum: 365, default: 30 }),
  /** The earliest `received_at` a new request may give (a date, YYYY-MM-DD, UTC); 3 years back from now when unset (see earliestReceivedAt). */
  RECEIVED_AT_EARLIEST: Type.Optional(Type.String({ pattern: '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$' })),
  APPROVAL_REQUIRED: Type.Optional(Type.String({ minLength: 1 })),
  /** What a second open request for the same person and type gets: link, merge or refuse (domain/duplicates.ts). */
  DUPLICATE_POLICY: Type.Optional(Type.String({ minLength: 1 })),
  /**
   * Which requests are checked for whom their identifiers lead to before any task (the wrong-person
   * guard and enrichment, engine/identify.ts): `auto` those that give no e-mail address, `always`
   * every one, `off` none.
   */
  IDENTITY_CHECK: Type.Enum(['off', 'auto', 'always'], { default: 'auto' }),
  /** Under this age a person is a child (the privacy policy says 14). */
  CHILD_AGE: Type.Integer({ minimum: 1, maximum: 21, default: 14 }),
  /** A child's request is due internally this many days after receipt (at the latest by the legal deadline). */
  CHILD_DUE_DAYS: Type.Integer({ minimum: 1, maximum: 90, default: 7 }),
  BODY_LIMIT_BYTES: Type.Integer({ minimum: 1024, maximum: 10_485_760, default: 65_536 }),
  ROLE: Type.Enum(['all', 'api', 'worker'], { default: 'all' }),
  CONNECTORS_FILE: Type.Optional(Type.String({ minLength: 1 })),
  /** The controller's identity, contacts, supervisory authorities and rights, given with every archive. */
  CONTROLLER_FILE: Type.Optional(Type.String({ minLength: 1 })),
  /** Where collected files and archives are kept when STORAGE_URL is not set: `storage` under DATA_DIR by default. */
  STORAGE_DIR: Type.Optional(Type.String({ minLength: 1 })),
  /** Addressing as `endpoint/bucket/key` rather than `bucket.endpoint/key`: what most S3-compatible servers (MinIO…) need. */
  STORAGE_S3_PATH_STYLE: Type.Boolean({ default: false }),
  /** Server-side encryption the object store applies to every object written (with STORAGE_URL). */
  STORAGE_S3_SSE: Type.Optional(Type.Enum(['AES256', 'aws:kms'])),
  /** The KMS key for STORAGE_S3_SSE=aws:kms; the bucket's default key when unset. */
  STORAGE_S3_SSE_KMS_KEY_ID: Type.Optional(Type.String({ minLength: 1 })),
  TASK_LEASE_SECONDS: Type.Integer({ minimum: 2, maximum: 3600, default: 30 }),
  TASK_RETRY_BASE_MS: Type.Integer({ minimum: 10, maximum: 3_600_000, default: 2000 }),
  TASK_RETRY_MAX_MS: Type.Integer({ minimum: 10, maximum: 86_400_000, default: 900_000 }),
  /**
   * Searches of a system after it erased, at most: one that still finds records is repeated after the
   * connector's settle time (a lagging search index), and residue the last one finds fails the task.
   */
  ERASURE_CHECK_ATTEMPTS: Type.Integer({ minimum: 1, maximum: 10, default: 3 }),
  TASK_POLL_SECONDS: Type.Number({ minimum: 0.5, maximum: 60, default: 1 }),
  ARCHIVE_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 32, default: 4 }),
  ARCHIVE_THREADS: Type.Integer({ minimum: 0, maximum: 16, default: 1 }),
  /** A build that has not finished after this long is given up and tried again (it waits on something that will not answer). */
  ARCHIVE_BUILD_TIMEOUT_SECONDS: Type.Integer({ minimum: 10, maximum: 86_400, default: 3600 }),
  SCHEDULER_ENABLED: Type.Boolean({ default: true }),
  /**
   * How often pg-boss looks for a due cron schedule (its cronMonitorIntervalSeconds): a tick is sent
   * at most this long after its minute starts. At most 45, so that every minute is seen.
   */
  SCHEDULER_CHECK_SECONDS: Type.Integer({ minimum: 1, maximum: 45, default: 30 }),
  HEALTH_CRON: Type.String({ pattern: '^\\S+( \\S+){4}$', default: '*/5 * * * *' }),
  RETENTION_CRON: Type.String({ pattern: '^\\S+( \\S+){4}$', default: '17 3 * * *' }),
  ARCHIVE_EXPIRY_CRON: Type.String({ pattern: '^\\S+( \\S+){4}$', default: '0 * * * *' }),
  DEADLINE_CRON: Type.String({ pattern: '^\\S+( \\S+){4}$', default: '*/15 * * * *' }),
  DEADLINE_WARNING_HOURS: Type.Integer({ minimum: 1, maximum: 8760, default: 72 }),
  DEADLINE_WEBHOOK_URL: Type.Optional(Type.String({ pattern: '^https?://' })),
  DEADLINE_WEBHOOK_SECRET: Type.Optional(Type.String({ minLength: 16 })),
  METRICS_TOKEN: Type.Optional(Type.String({ minLength: 16 })),
  TRANSFER_ALLOWLIST: Type.Optional(Type.String({ minLength: 1 })),
  TRANSFER_SECRET_KEY: Type.Optional(Type.String({ minLength: 1 })),
  TRANSFER_TIMEOUT_SECONDS: Type.Integer({ minimum: 1, maximum: 3600, default: 60 }),
  TRANSFER_MAX_SECONDS: Type.Integer({ minimum: 10, maximum: 43_200, default: 3600 }),
  TRANSFER_MAX_ATTEMPTS: Type.Integer({ minimum: 1, maximum: 20, default: 5 }),
  TRANSFER_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 32, default: 2 }),
  /** Where a request's callback_url may point (the syntax of TRANSFER_ALLOWLIST); without it, callback_url is refused. */
  CALLBACK_ALLOWLIST: Type.Optional(Type.String({ minLength: 1 })),
  CALLBACK_MAX_ATTEMPTS: Type.Integer({ minimum: 1, maximum: 30, default: 8 }),
  CALLBACK_RETRY_BASE_MS: Type.Integer({ minimum: 10, maximum: 3_600_000, default: 10_000 }),
  CALLBACK_RETRY_MAX_MS: Type.Integer({ minimum: 10, maximum: 86_400_000, default: 3_600_000 }),
  CALLBACK_TIMEOUT_SECONDS: Type.Integer({ minimum: 1, maximum: 120, default: 10 }),
  CALLBACK_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 64, default: 4 }),
  ARCHIVE_RETENTION_DAYS: Type.Integer({ minimum: 0, maximum: 3650, default: 30 }),
  /** Defaults to ARCHIVE_RETENTION_DAYS, and may not exceed it (the archive's expiry deletes them too). */
  COLLECTED_ITEMS_RETENTION_DAYS: Type.Optional(Type.Integer({ minimum: 0, maximum: 3650 })),
  /**
   * Days after a request closes until its personal data (identifiers, free text) is removed, keeping
   * the record of what was asked and done. At least ARCHIVE_RETENTION_DAYS: the record outlives the archive.
   */
  REQUEST_IDENTIFIERS_RETENTION_DAYS: Type.Integer({ minimum: 1, maximum: 3650, default: 90 }),
  REDACTION_CRON: Type.String({ pattern: '^\\S+( \\S+){4}$', default: '41 3 * * *' }),
  ARCHIVE_LINK_TTL_SECONDS: Type.Integer({ minimum: 60, maximum: 2_592_000, default: 604_800 }),
  /** How long backups of a system are kept; a connector's `backup_retention_days` overrides it. */
  BACKUP_RETENTION_DAYS: Type.Integer({ minimum: 0, maximum: 3650, default: 35 }),
  ERASURE_PROOF_CRON: Type.String({ pattern: '^\\S+( \\S+){4}$', default: '*/5 * * * *' }),
  /** Seals new audit events into the audit chain and signs its head (src/audit/seal.ts); every minute, pg-boss cron's finest. */
  AUDIT_SEAL_CRON: Type.String({ pattern: '^\\S+( \\S+){4}$', default: '* * * * *' }),
  /**
   * Service-run identity verification (POST /v1/requests/:id/verification): the one-time code and link
   * are e-mailed through SMTP_URL (`smtp://` or `smtps://`, credentials in the URL; a secret) from
   * MAIL_FROM. Without SMTP_URL, starting a verification is refused (DSR_NOTIFIER_NOT_CONFIGURED).
   */
  MAIL_FROM: Type.String({ minLength: 3, maxLength: 200, default: 'privacy@localhost' }),
  /** The service's public origin, e.g. https://dsar.example.com: the verification link in the e-mail points there. */
  PUBLIC_URL: Type.Optional(Type.String({ pattern: '^https?://[^/?#]+$' })),
  /**
   * Customer accounts (tenants), as JSON: [{"id","name","managed","admins":[{"email","name"}],"assistance_days"}].
   * Loaded at start into the service's database (an account named here is set as it says; accounts made
   * through the API stay). Without CONNECTORS_FILE, the sample systems' accounts.
   */
  ACCOUNTS_FILE: Type.Optional(Type.String({ minLength: 1 })),
  /** Days from routing by which the company assists a managed account's controller (GDPR Art 28(3)(e)), unless the account says. */
  ACCOUNT_ASSISTANCE_DAYS: Type.Integer({ minimum: 1, maximum: 90, default: 14 }),
  /** How long a verification code and link stay valid. */
  VERIFICATION_TTL_MINUTES: Type.Integer({ minimum: 5, maximum: 10_080, default: 1440 }),
  /** Wrong codes after which a challenge is locked (a new one can be started, audited). */
  VERIFICATION_MAX_ATTEMPTS: Type.Integer({ minimum: 1, maximum: 20, default: 5 }),
  /** Days a request may wait in `verifying` before it is rejected on the ground identity_not_established. */
  VERIFICATION_TIMEOUT_DAYS: Type.Integer({ minimum: 1, maximum: 365, default: 7 }),
  VERIFICATION_TIMEOUT_CRON: Type.String({ pattern: '^\\S+( \\S+){4}$', default: '11 * * * *' }),
  // Secrets: checked by checkSecrets below, not by a pattern here, so that no message ever echoes them.
  ARCHIVE_ENCRYPTION_KEY: Type.Optional(Type.String()),
  LINK_SIGNING_KEY: Type.Optional(Type.String()),
  RECEIPT_SIGNING_KEY: Type.Optional(Type.String()),
  RECEIPT_HMAC_KEY: Type.Optional(Type.String()),
  BACKUP_TOMBSTONE_KEY: Type.Optional(Type.String()),
  /** `kid:secret` pairs, comma-separated; the first signs, every one is announced by its key id (see callbackSigningKeys). */
  CALLBACK_SIGNING_KEYS: Type.Optional(Type.String()),
  SMTP_URL: Type.Optional(Type.String()),
  /**
   * `s3://bucket/prefix`: collected files and archives go to an S3-compatible object store instead of
   * a local directory, so that API and worker processes on different machines share them. Endpoint,
   * region and credentials come from the AWS SDK's environment variables (AWS_ENDPOINT_URL_S3,
   * AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY…), never from the URL.
   */
  STORAGE_URL: Type.Optional(Type.String()),
  /** Keys the HMAC of verification codes (at least 32 characters); without it, a key made for this process. */
  VERIFICATION_CODE_KEY: Type.Optional(Type.String()),
  /**
   * Encrypts and signs the operator console's session cookie (32 random bytes in base64). Without it the
   * console signs in on the embedded database only, with a key made for this process (sessions end when
   * it stops); on Postgres the console then answers DSR_CONSOLE_NOT_CONFIGURED.
   */
  CONSOLE_SESSION_KEY: Type.Optional(Type.String()),
  /**
   * The privacy centre (/privacy): the rights it offers, the law its requests are answered under, and
   * its words in each language, as JSON of the shipped file's shape (views/privacy/texts.json, used
   * without it). Served where the service can send e-mail (SMTP_URL): requests there are confirmed by e-mail.
   */
  PRIVACY_CENTRE_FILE: Type.Optional(Type.String({ minLength: 1 })),
  /** Privacy centre forms one client address may send per window (PRIVACY_RATE_LIMIT_WINDOW_MINUTES); then 429 DSR_TOO_MANY_REQUESTS. */
  PRIVACY_RATE_LIMIT_PER_IP: Type.Integer({ minimum: 1, maximum: 10_000, default: 20 }),
  /** Requests the privacy centre takes for one e-mail address per window, from anywhere (known to the service or not). */
  PRIVACY_RATE_LIMIT_PER_EMAIL: Type.Integer({ minimum: 1, maximum: 1000, default: 3 }),
  PRIVACY_RATE_LIMIT_WINDOW_MINUTES: Type.Integer({ minimum: 1, maximum: 1440, default: 60 }),
  /** Minutes without a page or an action after which a console session ends. */
  CONSOLE_IDLE_MINUTES: Type.Integer({ minimum: 1, maximum: 720, default: 30 }),
  /**
   * The console cookie's Secure attribute: `auto` when this process serves HTTPS itself, `true` behind a
   * proxy that terminates TLS (the service then sees plain HTTP), `false` only for plain-HTTP development.
   */
  CONSOLE_COOKIE_SECURE: Type.Enum(['auto', 'true', 'false'], { default: 'auto' }),
  /**
   * The OpenDSR facade (src/opendsr/, routes under /opendsr/v2 and /opendsr/v1): the domain its
   * certificate is issued to (X-OpenDSR-Processor-Domain), the certificate (PEM, issued by a CA, with
   * any intermediates after it) and its private key (a secret). All three or none: without them the
   * facade is not served (DSR_OPENDSR_NOT_CONFIGURED), because OpenDSR answers and callbacks must be signed.
   */
  OPENDSR_PROCESSOR_DOMAIN: Type.Optional(Type.String({ pattern: '^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$' })),
  OPENDSR_CERTIFICATE: Type.Optional(Type.String({ minLength: 1 })),
  OPENDSR_SIGNING_KEY: Type.Optional(Type.String())
}, { additionalProperties: true })

export type Config = Static<typeof EnvSchema>

export class ConfigError extends Error {
  override name = 'ConfigError'
}

/** Reads and validates configuration; throws a ConfigError naming every bad variable. */
export function loadConfig (env: Record<string, string | undefined> = process.env): Config {
  const raw: Record<string, unknown> = {}
  for (const key of Object.keys(EnvSchema.properties)) {
    const value = env[key]
    if (value !== undefined && value !== '') raw[key] = value
  }
  const withDefaults = Value.Default(EnvSchema, Value.Convert(EnvSchema, raw)) as Record<string, unknown>
  const errors = [...Value.Errors(EnvSchema, withDefaults)]
  if (errors.length > 0) {
    const lines = errors.map((e) => {
      const name = e.instancePath.replace(/^\//, '') || '(root)'
      return `  ${name}=${shownValue(name, env[name])}: ${e.message}`
    })
    throw new ConfigError(`Invalid configuration:\n${[...new Set(lines)].join('\n')}`)
  }
  const config = withDefaults as Config
  checkSecrets(config)
  if (config.DEADLINE_WEBHOOK_URL !== undefined) {
    try {
      singleUrlTarget(config.DEADLINE_WEBHOOK_URL, 'DEADLINE_WEBHOOK_URL', systemResolver)
    } catch (err) {
      throw new ConfigError(`Invalid configuration:\n  ${(err as Error).message}`)
    }
  }
  const approval = parseApprovalPolicy(config.APPROVAL_REQUIRED)
  if (approval.problems.length > 0) {
    throw new ConfigError(`Invalid configuration:\n${approval.problems.map((p) => `  APPROVAL_REQUIRED: ${p}`).join('\n')}`)
  }
  const duplicates = parseDuplicatePolicy(config.DUPLICATE_POLICY)
  if (duplicates.problems.length > 0) {
    throw new ConfigError(`Invalid configuration:\n${duplicates.problems.map((p) => `  DUPLICATE_POLICY: ${p}`).join('\n')}`)
  }
  if (config.REQUEST_IDENTIFIERS_RETENTION_DAYS < config.ARCHIVE_RETENTION_DAYS) {
    throw new ConfigError('Invalid configuration:\n  REQUEST_IDENTIFIERS_RETENTION_DAYS: must be at least ARCHIVE_RETENTION_DAYS ' +
      `(${config.ARCHIVE_RETENTION_DAYS}): a request's record outlives its archive`)
  }
  if (config.COLLECTED_ITEMS_RETENTION_DAYS !== undefined && config.COLLECTED_ITEMS_RETENTION_DAYS > config.ARCHIVE_RETENTION_DAYS) {
    throw new ConfigError('Invalid configuration:\n  COLLECTED_ITEMS_RETENTION_DAYS: must not exceed ARCHIVE_RETENTION_DAYS ' +
      `(${config.ARCHIVE_RETENTION_DAYS}): collected items are deleted with the archive at the latest`)
  }
  return config
}

/** How far back a new request's `received_at` may go when RECEIVED_AT_EARLIEST is not set: 3 years. */
export const RECEIVED_AT_DEFAULT_DAYS = 1096

/**
 * The earliest `received_at` a new request may give at `now`: RECEIVED_AT_EARLIEST (midnight UTC) when
 * set, otherwise RECEIVED_AT_DEFAULT_DAYS before now. A request received earlier is a mistake (a
 * year typed wrong), and its deadline would have passed long ago.
 */
export function earliestReceivedAt (config: Pick<Config, 'RECEIVED_AT_EARLIEST'>, now: Date): Date {
  return config.RECEIVED_AT_EARLIEST !== undefined
    ? new Date(`${config.RECEIVED_AT_EARLIEST}T00:00:00Z`)
    : new Date(now.getTime() - RECEIVED_AT_DEFAULT_DAYS * 86_400_000)
}

/** The archive encryption key: exactly 32 bytes, given as standard base64 (44 characters). */
export function archiveKeyBytes (value: string): Buffer | null {
  if (!/^[A-Za-z0-9+/]{43}=$/.test(value)) return null
  const key = Buffer.from(value, 'base64')
  return key.length === 32 ? key : null
}

/**
 * RECEIPT_SIGNING_KEY: an Ed25519 private key, as PKCS#8 PEM (line breaks may be written as \n) or
 * as a private JWK (`{"kty":"OKP","crv":"Ed25519","d":…,"x":…}`). Null when it is anything else.
 */
export function receiptSigningKey (value: string): KeyObject | null {
  try {
    const text = value.trim()
    const key = text.startsWith('{')
      ? createPrivateKey({ key: JSON.parse(text) as JsonWebKey, format: 'jwk' })
      : createPrivateKey({ key: text.replaceAll('\\n', '\n'), format: 'pem' })
    return key.asymmetricKeyType === 'ed25519' ? key : null
  } catch {
    return null
  }
}

/** One status-callback signing key: its id (announced in every signature) and its secret. */
export interface CallbackSigningKey { kid: string, secret: string }

/**
 * CALLBACK_SIGNING_KEYS: `kid:secret` pairs separated by commas, key ids of 1 to 64 of
 * [A-Za-z0-9_.-], distinct, each secret at least 32 characters. The first signs; the others are kept
 * for the rotation's record. Null when the value is anything else.
 */
export function callbackSigningKeys (value: string): CallbackSigningKey[] | null {
  const keys: CallbackSigningKey[] = []
  for (const pair of value.split(',').map((p) => p.trim()).filter((p) => p.length > 0)) {
    const at = pair.indexOf(':')
    const kid = pair.slice(0, at)
    const secret = pair.slice(at + 1)
    if (at < 1 || !/^[A-Za-z0-9_.-]{1,64}$/.test(kid) || secret.length < 32 || keys.some((k) => k.kid === kid)) return null
    keys.push({ kid, secret })
  }
  return keys.length > 0 ? keys : null
}

function checkSecrets (config: Config): void {
  const lines: string[] = []
  if (config.ARCHIVE_ENCRYPTION_KEY !== undefined && !archiveKeyBytes(config.ARCHIVE_ENCRYPTION_KEY)) {
    lines.push('  ARCHIVE_ENCRYPTION_KEY: must be 32 random bytes in base64, 44 characters ending in "=" (e.g. `openssl rand -base64 32`)')
  }
  if (config.LINK_SIGNING_KEY !== undefined && config.LINK_SIGNING_KEY.length < 32) {
    lines.push('  LINK_SIGNING_KEY: must be at least 32 characters (e.g. `openssl rand -base64 32`)')
  }
  if (config.RECEIPT_SIGNING_KEY !== undefined && !receiptSigningKey(config.RECEIPT_SIGNING_KEY)) {
    lines.push('  RECEIPT_SIGNING_KEY: must be an Ed25519 private key, as PKCS#8 PEM or a private JWK (e.g. `openssl genpkey -algorithm ed25519`)')
  }
  if (config.RECEIPT_HMAC_KEY !== undefined && config.RECEIPT_HMAC_KEY.length < 32) {
    lines.push('  RECEIPT_HMAC_KEY: must be at least 32 characters (e.g. `openssl rand -base64 32`)')
  }
  if (config.BACKUP_TOMBSTONE_KEY !== undefined && !archiveKeyBytes(config.BACKUP_TOMBSTONE_KEY)) {
    lines.push('  BACKUP_TOMBSTONE_KEY: must be 32 random bytes in base64, 44 characters ending in "=" (e.g. `openssl rand -base64 32`)')
  }
  if (config.CALLBACK_SIGNING_KEYS !== undefined && !callbackSigningKeys(config.CALLBACK_SIGNING_KEYS)) {
    lines.push('  CALLBACK_SIGNING_KEYS: must be kid:secret pairs separated by commas, distinct key ids of [A-Za-z0-9_.-], ' +
      'each secret at least 32 characters (e.g. `k1:$(openssl rand -base64 32)`)')
  }
  if (config.CALLBACK_ALLOWLIST !== undefined && config.CALLBACK_SIGNING_KEYS === undefined) {
    lines.push('  CALLBACK_SIGNING_KEYS: required with CALLBACK_ALLOWLIST: every status callback is signed')
  }
  if (config.SMTP_URL !== undefined && !/^smtps?:\/\/[^\s]+$/.test(config.SMTP_URL)) {
    lines.push('  SMTP_URL: must be an smtp:// or smtps:// URL (e.g. smtps://user:password@mail.example.com:465)')
  }
  if (config.STORAGE_URL !== undefined) {
    if (hasUserinfo(config.STORAGE_URL)) {
      lines.push('  STORAGE_URL: must not hold credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or another source the AWS SDK reads)')
    } else if (!parseStorageUrl(config.STORAGE_URL)) {
      lines.push('  STORAGE_URL: must be s3://bucket or s3://bucket/prefix (the endpoint comes from AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL)')
    } else if (config.STORAGE_DIR !== undefined) {
      lines.push('  STORAGE_DIR: not used with STORAGE_URL: set one of them')
    }
  }
  if (config.STORAGE_S3_SSE_KMS_KEY_ID !== undefined && config.STORAGE_S3_SSE !== 'aws:kms') {
    lines.push('  STORAGE_S3_SSE_KMS_KEY_ID: only with STORAGE_S3_SSE=aws:kms')
  }
  if (config.CONSOLE_SESSION_KEY !== undefined && !archiveKeyBytes(config.CONSOLE_SESSION_KEY)) {
    lines.push('  CONSOLE_SESSION_KEY: must be 32 random bytes in base64, 44 characters ending in "=" (e.g. `openssl rand -base64 32`)')
  }
  if (config.VERIFICATION_CODE_KEY !== undefined && config.VERIFICATION_CODE_KEY.length < 32) {
    lines.push('  VERIFICATION_CODE_KEY: must be at least 32 characters (e.g. `openssl rand -base64 32`)')
  }
  for (const problem of openDsrSigner(config).problems) lines.push(`  ${problem}`)
  if (lines.length > 0) throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`)
}

/** Reads a UTF-8 file named by configuration, with an error that says which setting pointed at it. */
export function readConfigFile (setting: string, path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (err) {
    throw new ConfigError(`${setting}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
  }
}
