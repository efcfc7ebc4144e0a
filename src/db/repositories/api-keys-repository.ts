import { isNull } from 'drizzle-orm'
import type { DbHandle, TxHandle } from '../client.js'
import { apiKeys } from '../schema.js'

export type ApiKeyRow = typeof apiKeys.$inferSelect

/** API keys the service issued itself (api_keys): only their hashes are stored. */
export function createApiKeysRepository (dbh: DbHandle) {
  return {
    /** Every key not revoked. */
    async active (tx: TxHandle = dbh): Promise<ApiKeyRow[]> {
      return tx.db.select().from(apiKeys).where(isNull(apiKeys.revokedAt))
    },

    /** Stores a key unless one of that name exists; true when it was stored. */
    async createIfAbsent (key: { name: string, keyHash: string, scopes: string[] }, tx: TxHandle = dbh): Promise<boolean> {
      const inserted = await tx.db.insert(apiKeys)
        .values(key)
        .onConflictDoNothing({ target: apiKeys.name })
        .returning({ id: apiKeys.id })
      return inserted.length > 0
    }
  }
}

export type ApiKeysRepository = ReturnType<typeof createApiKeysRepository>
