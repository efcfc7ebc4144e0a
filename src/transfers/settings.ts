import { ConfigError, type Config } from '../config.js'
import { systemResolver, type HostResolver } from './addresses.js'
import { parseAllowList, type AllowList } from './allowlist.js'
import { createSecretBox, parseSecretKey, type SecretBox } from './seal.js'

/** Direct-transfer settings, parsed once at boot from the TRANSFER_* variables. */
export interface TransferSettings {
  allowList: AllowList
  /** Null without TRANSFER_SECRET_KEY: transfers with an authorization are then refused. */
  secretBox: SecretBox | null
  resolve: HostResolver
  idleTimeoutMs: number
  maxDurationMs: number
  maxAttempts: number
  concurrency: number
}

/** Throws a ConfigError (exit 78 at boot) naming a bad allow-list entry or key. */
export function transferSettings (config: Config, resolve: HostResolver = systemResolver): TransferSettings {
  try {
    const key = parseSecretKey(config.TRANSFER_SECRET_KEY)
    return {
      allowList: parseAllowList(config.TRANSFER_ALLOWLIST),
      secretBox: key ? createSecretBox(key) : null,
      resolve,
      idleTimeoutMs: config.TRANSFER_TIMEOUT_SECONDS * 1000,
      maxDurationMs: config.TRANSFER_MAX_SECONDS * 1000,
      maxAttempts: config.TRANSFER_MAX_ATTEMPTS,
      concurrency: config.TRANSFER_CONCURRENCY
    }
  } catch (err) {
    throw new ConfigError((err as Error).message)
  }
}
