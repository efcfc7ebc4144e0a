import type { CallbackSigningKey } from '../config.js'
import { signWebhook } from '../engine/deadline-monitor.js'

/** The header that carries a status callback's signature. */
export const SIGNATURE_HEADER = 'dsr-signature'

/**
 * Stripe's signed-payload scheme with a key id: `t=<unix seconds>,kid=<key id>,v1=<hex>`, where v1
 * is HMAC-SHA256 with the key's secret over `<t>.<body>` (the exact bytes sent). The receiver picks
 * its secret by `kid`, recomputes v1, compares in constant time, and refuses an old `t` (replay).
 */
export function signatureHeader (key: CallbackSigningKey, body: string, now: Date = new Date()): string {
  const t = String(Math.floor(now.getTime() / 1000))
  return `t=${t},kid=${key.kid},${signWebhook(key.secret, t, body)}`
}
