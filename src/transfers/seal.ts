import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'

/**
 * Keeps a secret (the Authorization header value a receiver expects) encrypted at rest with
 * AES-256-GCM. The sealed form names the key it was sealed under, and is bound to one row through
 * the additional authenticated data, so it cannot be copied onto another transfer.
 *
 * Sealed form: `v1.<keyId>.<iv>.<ciphertext>.<tag>` (base64url parts; 12-byte IV, 16-byte tag).
 */
export interface SecretBox {
  keyId: string
  seal (plaintext: string, aad: string): string
  /** The plaintext, or null when the value was sealed under another key or was tampered with. */
  open (sealed: string, aad: string): string | null
}

/** TRANSFER_SECRET_KEY: 32 bytes, as 64 hex digits or base64. Throws naming the setting. */
export function parseSecretKey (value: string | undefined): Buffer | null {
  if (!value) return null
  const trimmed = value.trim()
  const key = /^[0-9a-fA-F]{64}$/.test(trimmed) ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64')
  if (key.length !== 32) throw new Error('TRANSFER_SECRET_KEY must be 32 bytes, given as 64 hex digits or base64 (openssl rand -base64 32)')
  return key
}

export function createSecretBox (key: Buffer): SecretBox {
  const keyId = createHash('sha256').update('dsr-transfer-key').update(key).digest('hex').slice(0, 12)
  return {
    keyId,
    seal (plaintext, aad) {
      const iv = randomBytes(12)
      const cipher = createCipheriv('aes-256-gcm', key, iv)
      cipher.setAAD(Buffer.from(aad, 'utf8'))
      const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
      return ['v1', keyId, iv.toString('base64url'), ciphertext.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.')
    },
    open (sealed, aad) {
      const [version, id, iv, ciphertext, tag] = sealed.split('.')
      if (version !== 'v1' || id !== keyId || iv === undefined || ciphertext === undefined || tag === undefined) return null
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), { authTagLength: 16 })
        decipher.setAAD(Buffer.from(aad, 'utf8'))
        decipher.setAuthTag(Buffer.from(tag, 'base64url'))
        return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8')
      } catch {
        return null
      }
    }
  }
}
