import { readFileSync } from 'node:fs'
import { Type, type Static } from 'typebox'
import { Value } from 'typebox/value'
import { ConfigError } from '../config.js'
import type { DbHandle } from '../db/client.js'
import { createAccountsRepository } from '../db/repositories/accounts-repository.js'

const AccountEntrySchema = Type.Object({
  id: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,62}$' }),
  name: Type.String({ minLength: 1, maxLength: 200 }),
  managed: Type.Boolean(),
  admins: Type.Array(Type.Object({ email: Type.String({ pattern: '^[^@\\s]+@[^@\\s]+$' }), name: Type.Optional(Type.String()) }, { additionalProperties: false })),
  assistance_days: Type.Optional(Type.Integer({ minimum: 1, maximum: 90 })),
  callback_url: Type.Optional(Type.String({ pattern: '^https?://' }))
}, { additionalProperties: false })
const AccountsFileSchema = Type.Object({ accounts: Type.Array(AccountEntrySchema) }, { additionalProperties: false })
export type AccountsFile = Static<typeof AccountsFileSchema>

/** Reads and checks an accounts file (ACCOUNTS_FILE); a ConfigError names what is wrong. */
export function readAccountsFile (path: string): AccountsFile {
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'))
  } catch (err) {
    throw new ConfigError(`ACCOUNTS_FILE (${path}): ${(err as Error).message}`)
  }
  const errors = [...Value.Errors(AccountsFileSchema, parsed)]
  if (errors.length > 0) throw new ConfigError(`ACCOUNTS_FILE (${path}): ${errors.map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ')}`)
  return parsed as AccountsFile
}

/** Sets each account of the file in the service's database as the file says (accounts made through the API stay). */
export async function loadAccounts (dbh: DbHandle, file: AccountsFile): Promise<void> {
  const repo = createAccountsRepository(dbh)
  for (const a of file.accounts) {
    await repo.put({ id: a.id, name: a.name, managed: a.managed, admins: a.admins, assistanceDays: a.assistance_days ?? null, callbackUrl: a.callback_url ?? null })
  }
}
