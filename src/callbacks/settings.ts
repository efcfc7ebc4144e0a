import { callbackSigningKeys, ConfigError, type CallbackSigningKey, type Config } from '../config.js'
import { systemResolver, type HostResolver } from '../transfers/addresses.js'
import { matchDestination, parseAllowList, type AllowList } from '../transfers/allowlist.js'

/** Status-callback settings, parsed once at boot from the CALLBACK_* variables. */
export interface CallbackSettings {
  /** Empty without CALLBACK_ALLOWLIST: every callback_url is then refused at intake. */
  allowList: AllowList
  /** The first signs. Empty only when there is no allow-list (config.ts requires keys with one). */
  keys: readonly CallbackSigningKey[]
  resolve: HostResolver
  timeoutMs: number
  /** Attempts per round: a delivery's first sending, and each redelivery, get this many. */
  maxAttempts: number
  retryBaseMs: number
  retryMaxMs: number
  concurrency: number
}

/** Throws a ConfigError (exit 78 at boot) naming a bad allow-list entry. */
export function callbackSettings (config: Config, resolve: HostResolver = systemResolver): CallbackSettings {
  try {
    return {
      allowList: parseAllowList(config.CALLBACK_ALLOWLIST, 'CALLBACK_ALLOWLIST'),
      keys: config.CALLBACK_SIGNING_KEYS ? callbackSigningKeys(config.CALLBACK_SIGNING_KEYS) ?? [] : [],
      resolve,
      timeoutMs: config.CALLBACK_TIMEOUT_SECONDS * 1000,
      maxAttempts: config.CALLBACK_MAX_ATTEMPTS,
      retryBaseMs: config.CALLBACK_RETRY_BASE_MS,
      retryMaxMs: config.CALLBACK_RETRY_MAX_MS,
      concurrency: config.CALLBACK_CONCURRENCY
    }
  } catch (err) {
    throw new ConfigError((err as Error).message)
  }
}

/**
 * Why a callback_url can never be called under this configuration (no allow-list, or its origin
 * not in it), or null when it may be: then it is checked again, with DNS, at every sending.
 */
export function callbackUrlRefusal (settings: Pick<CallbackSettings, 'allowList'>, callbackUrl: string): string | null {
  if (settings.allowList.length === 0) return 'callback_url is not accepted: this deployment has no CALLBACK_ALLOWLIST'
  let url: URL
  try {
    url = new URL(callbackUrl)
  } catch {
    return 'callback_url must be an absolute URL'
  }
  if (url.username || url.password) return 'callback_url must not carry credentials'
  return matchDestination(settings.allowList, url) ? null : `callback_url: ${url.origin} is not in CALLBACK_ALLOWLIST`
}
