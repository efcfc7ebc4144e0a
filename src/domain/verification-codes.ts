import { createHash, createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto'

/** A fresh one-time code (6 digits) and link token (256 random bits, base64url), in the clear: sent once, never stored. */
export function newSecrets (): { code: string, token: string } {
  return { code: String(randomInt(0, 1_000_000)).padStart(6, '0'), token: randomBytes(32).toString('base64url') }
}

/**
 * The stored form of a code: HMAC-SHA256 under the service's key, bound to its challenge. A million
 * codes are tried in a blink, so an unkeyed hash would give the code away to anyone who reads the
 * table; with the key, the table alone tells nothing.
 */
export function hashCode (key: string, challengeId: string, code: string): string {
  return createHmac('sha256', key).update(`${challengeId}.${code}`).digest('base64url')
}

/** The stored form of a link token: its SHA-256 (the token has 256 bits of entropy, nothing to try). */
export function hashToken (token: string): string {
  return createHash('sha256').update(token).digest('base64url')
}

/** Constant-time comparison of two stored hashes. */
export function sameHash (a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** What a presented code looks like: exactly six digits (anything else is refused before any lookup). */
export const CODE_PATTERN = '^[0-9]{6}$'
/** What a presented link token looks like: 43 base64url characters. */
export const TOKEN_PATTERN = '^[A-Za-z0-9_-]{43}$'

export const CHALLENGE_STATUSES = ['open', 'confirmed', 'locked', 'superseded', 'timed_out'] as const
export type ChallengeStatus = typeof CHALLENGE_STATUSES[number]
