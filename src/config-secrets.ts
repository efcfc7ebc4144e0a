/**
 * Settings whose values are secrets: messages name them but never show their values. Keys and
 * tokens, the API keys' JSON (it may hold plain keys), and the signing keys.
 */
export const SECRET_SETTINGS: ReadonlySet<string> = new Set([
  'API_KEYS', 'METRICS_TOKEN', 'DEADLINE_WEBHOOK_SECRET', 'TRANSFER_SECRET_KEY',
  'ARCHIVE_ENCRYPTION_KEY', 'LINK_SIGNING_KEY', 'RECEIPT_SIGNING_KEY', 'RECEIPT_HMAC_KEY', 'BACKUP_TOMBSTONE_KEY',
  'CALLBACK_SIGNING_KEYS', 'VERIFICATION_CODE_KEY', 'OPENDSR_SIGNING_KEY', 'CONSOLE_SESSION_KEY'
])

/**
 * Settings holding a URL or list of URLs, which may carry credentials (`postgres://user:password@…`)
 * or a token in the query: shown with the password and the query masked.
 */
export const URL_SETTINGS: ReadonlySet<string> = new Set(['DATABASE_URL', 'DEADLINE_WEBHOOK_URL', 'TRANSFER_ALLOWLIST', 'CALLBACK_ALLOWLIST', 'SMTP_URL', 'STORAGE_URL'])

const MASK = '***'

/** A setting's value as a message may show it: "(secret)" for a secret, a URL with its credentials and query masked. */
export function shownValue (name: string, value: string | undefined): string {
  if (SECRET_SETTINGS.has(name)) return '(secret)'
  if (URL_SETTINGS.has(name)) return JSON.stringify(maskUrls(value ?? ''))
  return JSON.stringify(value ?? '')
}

/**
 * Text with the userinfo and the query of every URL in it masked: `postgres://app:***@db/dsr`,
 * `https://alerts.example/hook?***`. Also catches what is not a valid URL (`scheme://user:pw@[bad`).
 */
export function maskUrls (text: string): string {
  return text
    .replace(/([a-z][a-z0-9+.-]*:\/\/)([^/?#\s"'@]*)@/gi, (_m, scheme: string, userinfo: string) => {
      const colon = userinfo.indexOf(':')
      return `${scheme}${colon >= 0 ? `${userinfo.slice(0, colon)}:${MASK}` : MASK}@`
    })
    .replace(/([a-z][a-z0-9+.-]*:\/\/[^\s"'?#]*)\?[^\s"'#]*/gi, `$1?${MASK}`)
}

/**
 * A message with every secret it could carry masked: the value of each secret setting in `env`
 * (and each part of a comma-separated one), the passwords of the URL settings (as written and
 * %-decoded), and the credentials and query of any URL in it. Every message the service writes
 * about its start (configuration errors, start-up failures, migrate) passes through here.
 */
export function redactSecrets (text: string, env: Record<string, string | undefined> = process.env): string {
  const secrets = new Set<string>()
  for (const name of SECRET_SETTINGS) {
    const value = env[name]
    if (!value) continue
    secrets.add(value)
    for (const part of value.split(/[,\s]+/)) secrets.add(part.includes(':') ? part.slice(part.indexOf(':') + 1) : part)
    // Inside JSON (API_KEYS) or PEM (RECEIPT_SIGNING_KEY): every long run of key-like characters.
    for (const run of value.match(/[A-Za-z0-9+/=_-]{12,}/g) ?? []) secrets.add(run)
  }
  for (const name of URL_SETTINGS) {
    for (const match of (env[name] ?? '').matchAll(/:\/\/[^/?#\s@]*?:([^/?#\s@]*)@/g)) {
      secrets.add(match[1]!)
      try { secrets.add(decodeURIComponent(match[1]!)) } catch {}
    }
  }
  let out = maskUrls(text)
  // Longest first, so a secret containing another is masked whole; very short values would only mangle the text.
  for (const secret of [...secrets].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length)) out = out.split(secret).join(MASK)
  return out
}
