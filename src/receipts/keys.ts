import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto'
import { calculateJwkThumbprint, type JWK } from 'jose'
import { archiveKeyBytes, receiptSigningKey, type Config } from '../config.js'
import type { DbHandle } from '../db/client.js'
import { createServiceKeysRepository, type ServiceKeysRepository } from '../db/repositories/service-keys-repository.js'
import { createSecretBox, type SecretBox } from '../transfers/seal.js'

/**
 * The keys behind erasure proof: the Ed25519 key that signs receipts, the secret that hashes the
 * person's identifiers in them (HMAC-SHA256), and the AES-256-GCM key that seals backup tombstones.
 * Each comes from configuration (RECEIPT_SIGNING_KEY, RECEIPT_HMAC_KEY, BACKUP_TOMBSTONE_KEY, checked
 * at boot by src/config.ts); where one is not configured, the service makes it once and keeps it in
 * `service_keys`, so receipts still verify and tombstones still open after a restart. A key made that
 * way stays usable after a key is configured: its public half stays in the JWKS, and tombstones sealed
 * under it still open.
 */

export type KeyPurpose = 'receipt_signing' | 'receipt_hmac' | 'backup_tombstone'

export type KeyConfig = Pick<Config, 'RECEIPT_SIGNING_KEY' | 'RECEIPT_HMAC_KEY' | 'BACKUP_TOMBSTONE_KEY'>

const CONFIGURED: Record<KeyPurpose, keyof KeyConfig> = {
  receipt_signing: 'RECEIPT_SIGNING_KEY',
  receipt_hmac: 'RECEIPT_HMAC_KEY',
  backup_tombstone: 'BACKUP_TOMBSTONE_KEY'
}

/** New key material, in the form it is stored (and configured) in. */
const MAKE: Record<KeyPurpose, () => string> = {
  receipt_signing: () => generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  receipt_hmac: () => randomBytes(32).toString('base64url'),
  backup_tombstone: () => randomBytes(32).toString('base64')
}

/** A public key as the JWKS publishes it. */
export interface PublishedJwk { kty: string, crv: string, x: string, kid: string, alg: string, use: string }

export interface SigningKey {
  privateKey: KeyObject
  kid: string
  publicJwk: PublishedJwk
}

export interface HmacKey {
  /** The secret itself (its UTF-8 bytes are the HMAC key). */
  secret: string
  /** A fingerprint naming it in receipts, so a verifier knows which secret to use. */
  id: string
}

export interface TombstoneKeys {
  /** Seals new tombstones. */
  box: SecretBox
  /** Opens a sealed value under the active key or a stored one; null when none opens it. */
  open (sealed: string, aad: string): string | null
}

export interface Keyring {
  signing (): Promise<SigningKey>
  /** The public keys that verify receipts: the active one first. */
  jwks (): Promise<{ keys: PublishedJwk[] }>
  hmac (): Promise<HmacKey>
  tombstones (): Promise<TombstoneKeys>
}

/** The stored key for a purpose, made and stored first if there is none (concurrent makers agree on one). */
async function storedKey (keys: ServiceKeysRepository, purpose: KeyPurpose): Promise<{ material: string, made: boolean }> {
  const inserted = await keys.insertIfAbsent(purpose, MAKE[purpose]())
  if (inserted !== null) return { material: inserted, made: true }
  const material = await keys.materialOf(purpose)
  if (material === null) throw new Error(`service key ${purpose} vanished`)
  return { material, made: false }
}

/**
 * Makes and stores every key that is not configured. Boot calls it once the database is migrated,
 * so the first start makes them; it returns the purposes made now, for the log.
 */
export async function ensureServiceKeys (dbh: DbHandle, config: KeyConfig): Promise<KeyPurpose[]> {
  const keys = createServiceKeysRepository(dbh)
  const made: KeyPurpose[] = []
  for (const purpose of Object.keys(CONFIGURED) as KeyPurpose[]) {
    if (config[CONFIGURED[purpose]] !== undefined) continue
    if ((await storedKey(keys, purpose)).made) made.push(purpose)
  }
  return made
}

/** The purposes whose key lives in the service database because it is not configured. */
export function unconfiguredKeys (config: KeyConfig): Array<keyof KeyConfig> {
  return (Object.values(CONFIGURED)).filter((name) => config[name] === undefined)
}

async function signingKeyOf (privateKey: KeyObject): Promise<SigningKey> {
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' }) as JWK
  const publicJwk = { kty: jwk.kty!, crv: jwk.crv!, x: jwk.x! }
  const kid = await calculateJwkThumbprint(publicJwk, 'sha256')
  return { privateKey, kid, publicJwk: { ...publicJwk, kid, alg: 'EdDSA', use: 'sig' } }
}

/** The HMAC key's fingerprint: not the key, and not usable to compute the hashes. */
export function hmacKeyId (secret: string): string {
  return createHash('sha256').update('dsr-receipt-hmac-key:').update(secret, 'utf8').digest('hex').slice(0, 16)
}

/**
 * The keys for one app (or job runner), loaded on first use and kept. A failure to load is not
 * kept: the next call tries again.
 */
export function createKeyring (deps: { dbh: DbHandle, config: KeyConfig }): Keyring {
  const { config } = deps
  const serviceKeys = createServiceKeysRepository(deps.dbh)
  const memo = <T>(load: () => Promise<T>) => {
    let value: Promise<T> | undefined
    return () => (value ??= load().catch((err: unknown) => { value = undefined; throw err }))
  }

  const active = async (purpose: KeyPurpose): Promise<string> =>
    config[CONFIGURED[purpose]] ?? (await storedKey(serviceKeys, purpose)).material

  const signing = memo(async () => {
    const configured = config.RECEIPT_SIGNING_KEY
    const key = configured ? receiptSigningKey(configured) : createPrivateKey((await storedKey(serviceKeys, 'receipt_signing')).material)
    if (!key) throw new Error('RECEIPT_SIGNING_KEY is not an Ed25519 private key')
    return signingKeyOf(key)
  })

  const jwks = memo(async () => {
    const current = await signing()
    const keys = [current.publicJwk]
    // A key the service made before one was configured still verifies the receipts it signed.
    if (config.RECEIPT_SIGNING_KEY) {
      const stored = await serviceKeys.materialOf('receipt_signing')
      if (stored) {
        const previous = await signingKeyOf(createPrivateKey(stored))
        if (previous.kid !== current.kid) keys.push(previous.publicJwk)
      }
    }
    return { keys }
  })

  const hmac = memo(async () => {
    const secret = await active('receipt_hmac')
    return { secret, id: hmacKeyId(secret) }
  })

  const tombstones = memo(async () => {
    const bytes = (material: string) => {
      const key = archiveKeyBytes(material)
      if (!key) throw new Error('BACKUP_TOMBSTONE_KEY is not 32 bytes in base64')
      return key
    }
    const box = createSecretBox(bytes(await active('backup_tombstone')))
    const boxes = [box]
    if (config.BACKUP_TOMBSTONE_KEY) {
      const stored = await serviceKeys.materialOf('backup_tombstone')
      if (stored) boxes.push(createSecretBox(bytes(stored)))
    }
    return {
      box,
      open: (sealed: string, aad: string) => {
        for (const b of boxes) {
          const plain = b.open(sealed, aad)
          if (plain !== null) return plain
        }
        return null
      }
    }
  })

  return { signing, jwks, hmac, tombstones }
}
