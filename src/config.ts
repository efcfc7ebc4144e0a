import { readFileSync } from 'node:fs'
import { Type, type Static } from 'typebox'
import { Value } from 'typebox/value'

/**
 * Every setting the service reads from its environment, validated once at boot.
 * The type is derived from the schema so the two cannot drift apart.
 */
export const EnvSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  HOST: Type.String({ minLength: 1, default: '0.0.0.0' }),
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  DATA_DIR: Type.String({ minLength: 1, default: '.data' }),
  MIGRATE_ON_START: Type.Optional(Type.Boolean()),
  LOG_LEVEL: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),
  API_KEYS: Type.Optional(Type.String({ minLength: 1 })),
  API_KEYS_FILE: Type.Optional(Type.String({ minLength: 1 })),
  PIPL_RESPONSE_DAYS: Type.Integer({ minimum: 1, maximum: 365, default: 30 }),
  BODY_LIMIT_BYTES: Type.Integer({ minimum: 1024, maximum: 10_485_760, default: 65_536 }),
  ROLE: Type.Enum(['all', 'api', 'worker'], { default: 'all' }),
  CONNECTORS_FILE: Type.Optional(Type.String({ minLength: 1 })),
  STORAGE_DIR: Type.Optional(Type.String({ minLength: 1 })),
  TASK_LEASE_SECONDS: Type.Integer({ minimum: 2, maximum: 3600, default: 30 }),
  TASK_RETRY_BASE_MS: Type.Integer({ minimum: 10, maximum: 3_600_000, default: 2000 }),
  TASK_RETRY_MAX_MS: Type.Integer({ minimum: 10, maximum: 86_400_000, default: 900_000 }),
  TASK_POLL_SECONDS: Type.Number({ minimum: 0.5, maximum: 60, default: 1 })
}, { additionalProperties: true })

export type Config = Static<typeof EnvSchema>

export class ConfigError extends Error {
  override name = 'ConfigError'
}

/** Reads and validates configuration; throws a ConfigError naming every bad variable. */
export function loadConfig (env: Record<string, string | undefined> = process.env): Config {
  const raw: Record<string, unknown> = {}
  for (const key of Object.keys(EnvSchema.properties)) {
    const value = env[key]
    if (value !== undefined && value !== '') raw[key] = value
  }
  const withDefaults = Value.Default(EnvSchema, Value.Convert(EnvSchema, raw)) as Record<string, unknown>
  const errors = [...Value.Errors(EnvSchema, withDefaults)]
  if (errors.length > 0) {
    const lines = errors.map((e) => {
      const name = e.instancePath.replace(/^\//, '') || '(root)'
      return `  ${name}=${JSON.stringify(env[name] ?? '')}: ${e.message}`
    })
    throw new ConfigError(`Invalid configuration:\n${[...new Set(lines)].join('\n')}`)
  }
  return withDefaults as Config
}

/** Reads a UTF-8 file named by configuration, with an error that says which setting pointed at it. */
export function readConfigFile (setting: string, path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (err) {
    throw new ConfigError(`${setting}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
  }
}
