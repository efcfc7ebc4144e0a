import { createHmac } from 'node:crypto'
import type { SubjectIdentity } from '../../connectors/types.js'
import { subjectKeys } from './duplicates.js'

/**
 * Keyed lookup hashes of a person's identifiers, for what the service keeps about a person beyond
 * one request (legal holds, suppressions): one HMAC-SHA256 per identifier, over the same canonical
 * keys duplicate matching uses (so an e-mail and its SHA-256 give the same hash), under a secret
 * (the keyring's HMAC key). Without the secret the hashes cannot be tested against a guessed
 * address, as a bare SHA-256 can. Hex, sorted, no duplicates.
 */
export function personKeys (subject: SubjectIdentity, secret: string): string[] {
  return [...new Set(subjectKeys(subject).map((k) => createHmac('sha256', secret).update(k).digest('hex')))].sort()
}
