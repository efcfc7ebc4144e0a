import { eq } from 'drizzle-orm'
import type { DbHandle, TxHandle } from '../client.js'
import { serviceKeys } from '../schema-proof.js'

/** The key material the service made for itself (service_keys), one row per purpose. */
export function createServiceKeysRepository (dbh: DbHandle) {
  return {
    /** Stores `material` as the purpose's key unless one is stored already: the material stored now, or null. */
    async insertIfAbsent (purpose: string, material: string, tx: TxHandle = dbh): Promise<string | null> {
      const [inserted] = await tx.db.insert(serviceKeys).values({ purpose, material })
        .onConflictDoNothing({ target: serviceKeys.purpose }).returning({ material: serviceKeys.material })
      return inserted?.material ?? null
    },

    /** The purpose's stored key material; null when none is stored. */
    async materialOf (purpose: string, tx: TxHandle = dbh): Promise<string | null> {
      const [row] = await tx.db.select({ material: serviceKeys.material }).from(serviceKeys).where(eq(serviceKeys.purpose, purpose))
      return row?.material ?? null
    }
  }
}

export type ServiceKeysRepository = ReturnType<typeof createServiceKeysRepository>
