import { createHash, randomBytes } from 'node:crypto'
import { Type, type Static } from 'typebox'
import { Value } from 'typebox/value'
import { ConfigError, readConfigFile, type Config } from '../config.js'
import type { DbHandle } from '../db/client.js'
import { createApiKeysRepository } from '../db/repositories/api-keys-repository.js'

export const SCOPES = [
  'requests:write', 'requests:read', 'requests:approve', 'archives:read', 'archives:write', 'archives:transfer', 'connectors:read', 'connectors:admin', 'suppressions:check', 'holds:manage', 'accounts:manage', 'accounts:instruct', 'console', 'admin'
] as const
export type Scope = typeof SCOPES[number]

/**
 * What a key bound to a customer account (a tenant key, for the account's administrator) may hold:
 * reading its account's requests and archives, and instructing or declining their parts
 * (`accounts:instruct`). Everything else is the company's own.
 */
export const TENANT_SCOPES: readonly Scope[] = ['requests:read', 'archives:read', 'accounts:instruct']

/**
 * One configured key. Prefer `sha256` (the hex SHA-256 of the key) so the secret never sits in
 * configuration; a plain `key` is accepted and hashed at once.
 */
const KeyEntrySchema = Type.Object({
  name: Type.String({ pattern: '^[A-Za-z0-9_.:-]{1,64}$' }),
  scopes: Type.Array(Type.Enum([...SCOPES]), { minItems: 1 }),
  sha256: Type.Optional(Type.String({ pattern: '^[a-f0-9]{64}$' })),
  key: Type.Optional(Type.String({ minLength: 24 })),
  /** Binds the key to one customer account: it sees and acts on that account's requests only (TENANT_SCOPES). */
  account: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,62}$' }))
}, { additionalProperties: false })
const KeyFileSchema = Type.Array(KeyEntrySchema)

export interface KeyRecord {
  name: string
  scopes: readonly Scope[]
  /** The customer account a tenant key is bound to. */
  account?: string
}

export function hashKey (key: string): string {
  return createHash('sha256').update(key).digest('hex')
}

/** 256 random bits, with a prefix that secret scanners can match. */
export function generateKey (): string {
  return `dsr_${randomBytes(32).toString('base64url')}`
}

/** Parses API_KEYS (JSON) and API_KEYS_FILE into key records indexed by hash. */
export function keysFromConfig (config: Pick<Config, 'API_KEYS' | 'API_KEYS_FILE'>): Map<string, KeyRecord> {
  const keys = new Map<string, KeyRecord>()
  const sources: Array<[string, string]> = []
  if (config.API_KEYS) sources.push(['API_KEYS', config.API_KEYS])
  if (config.API_KEYS_FILE) sources.push([`API_KEYS_FILE (${config.API_KEYS_FILE})`, readConfigFile('API_KEYS_FILE', config.API_KEYS_FILE)])
  for (const [setting, text] of sources) {
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      throw new ConfigError(`${setting}: not valid JSON (expected [{"name","scopes","sha256"}])`)
    }
    const errors = [...Value.Errors(KeyFileSchema, parsed)]
    if (errors.length > 0) {
      throw new ConfigError(`${setting}: ${errors.map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ')}`)
    }
    for (const [i, entry] of (parsed as Static<typeof KeyFileSchema>).entries()) {
      const hash = entry.sha256 ?? (entry.key ? hashKey(entry.key) : undefined)
      if (!hash) throw new ConfigError(`${setting}: /${i} needs "sha256" (or "key")`)
      const beyond = entry.account === undefined ? [] : entry.scopes.filter((sc) => !TENANT_SCOPES.includes(sc))
      if (beyond.length > 0) throw new ConfigError(`${setting}: /${i} is bound to account "${entry.account}" and may hold only ${TENANT_SCOPES.join(', ')} (not ${beyond.join(', ')})`)
      keys.set(hash, { name: entry.name, scopes: entry.scopes, ...(entry.account !== undefined ? { account: entry.account } : {}) })
    }
  }
  return keys
}

/** Keys the service issued itself (the development key), by hash. */
export async function storedKeys (dbh: DbHandle): Promise<Map<string, KeyRecord>> {
  const rows = await createApiKeysRepository(dbh).active()
  return new Map(rows.map((r) => [r.keyHash, { name: r.name, scopes: r.scopes as Scope[], ...(r.accountId ? { account: r.accountId } : {}) }]))
}

/**
 * On the first start of the embedded database with no keys configured, issues an admin key for
 * development and returns it (only its hash is stored). Returns null when one already exists.
 */
export async function issueDevelopmentKey (dbh: DbHandle): Promise<{ key: string, record: KeyRecord } | null> {
  const key = generateKey()
  const inserted = await createApiKeysRepository(dbh).createIfAbsent({ name: 'development', keyHash: hashKey(key), scopes: ['admin'] })
  return inserted ? { key, record: { name: 'development', scopes: ['admin'] } } : null
}

export function hasScope (record: KeyRecord, scope: Scope): boolean {
  if (record.account !== undefined) return TENANT_SCOPES.includes(scope) && record.scopes.includes(scope)
  return record.scopes.includes('admin') || record.scopes.includes(scope)
}
