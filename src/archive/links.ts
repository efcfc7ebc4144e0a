import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

/**
 * Signed download links: `/v1/archive-links/<linkId>?exp=<unix seconds>&sig=<HMAC>`, the HMAC-SHA256
 * of `<linkId>.<exp>` under LINK_SIGNING_KEY, base64url. The link row (revocation, download count)
 * is in the database; the signature is not stored anywhere, so a database reader cannot mint links.
 */
export function createLinkSigner (configuredKey: string | undefined) {
  // Without a configured key, one per process: links stop working when the process restarts and
  // are not accepted by other processes (the service warns at start).
  const key = configuredKey ?? randomBytes(32).toString('base64')
  const sign = (linkId: string, exp: number) => createHmac('sha256', key).update(`${linkId}.${exp}`).digest('base64url')
  const signed = (id: string, expiresAt: Date) => {
    const exp = Math.floor(expiresAt.getTime() / 1000)
    return { exp, sig: sign(id, exp) }
  }

  return {
    ephemeral: configuredKey === undefined,

    url (linkId: string, expiresAt: Date): string {
      const { exp, sig } = signed(linkId, expiresAt)
      return `/v1/archive-links/${linkId}?exp=${exp}&sig=${sig}`
    },

    /**
     * The `exp` and `sig` of another kind of signed link (the privacy centre's status link): its id
     * is prefixed with its kind, so that no signature of one kind is valid for another.
     */
    sign: signed,

    /** Checks a presented link in constant time. */
    verify (linkId: string, exp: string, sig: string, now: Date): 'valid' | 'invalid' | 'expired' {
      if (!/^\d{1,12}$/.test(exp)) return 'invalid'
      const expected = Buffer.from(sign(linkId, Number(exp)))
      const given = Buffer.from(sig)
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'invalid'
      return Number(exp) * 1000 <= now.getTime() ? 'expired' : 'valid'
    }
  }
}

export type LinkSigner = ReturnType<typeof createLinkSigner>
