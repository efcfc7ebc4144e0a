import { and, asc, eq, inArray, isNull, lt, or, sql } from 'drizzle-orm'
import type { DbHandle, TxHandle } from '../client.js'
import { accounts, requestAccounts, type AccountAdmin, type AccountPartState } from '../schema-accounts.js'

export type AccountRow = typeof accounts.$inferSelect
export type AccountInput = Pick<AccountRow, 'id' | 'name' | 'managed' | 'admins' | 'assistanceDays' | 'callbackUrl'>
export type AccountPartRow = typeof requestAccounts.$inferSelect
export type { AccountAdmin, AccountPartState }

/** Whether any customer account is managed (requests are then checked for whose records they reach: engine/planner.ts). */
export async function anyManagedAccount (tx: TxHandle): Promise<boolean> {
  const [row] = await tx.rows<{ managed: boolean }>(sql`select exists (select 1 from accounts where managed) as managed`)
  return row?.managed === true
}

/** Customer accounts and the parts of requests that belong to managed ones (schema-accounts.ts). */
export function createAccountsRepository (dbh: DbHandle) {
  return {
    async list (tx: TxHandle = dbh): Promise<AccountRow[]> {
      return tx.db.select().from(accounts).orderBy(asc(accounts.id))
    },

    async get (id: string, tx: TxHandle = dbh): Promise<AccountRow | null> {
      const [row] = await tx.db.select().from(accounts).where(eq(accounts.id, id))
      return row ?? null
    },

    /** Creates the account or replaces what it says; `created` tells which. */
    async put (input: AccountInput, tx: TxHandle = dbh): Promise<{ row: AccountRow, created: boolean }> {
      const [row] = await tx.rows<{ created: boolean }>(sql`
        insert into accounts (id, name, managed, admins, assistance_days, callback_url)
        values (${input.id}, ${input.name}, ${input.managed}, ${JSON.stringify(input.admins)}::jsonb, ${input.assistanceDays}, ${input.callbackUrl})
        on conflict (id) do update set name = excluded.name, managed = excluded.managed, admins = excluded.admins,
          assistance_days = excluded.assistance_days, callback_url = excluded.callback_url, updated_at = now()
        returning (xmax = 0) as created`)
      return { row: (await this.get(input.id, tx))!, created: row!.created === true }
    },

    /** The managed accounts among `ids`. */
    async managedAmong (ids: readonly string[], tx: TxHandle = dbh): Promise<AccountRow[]> {
      if (ids.length === 0) return []
      return tx.db.select().from(accounts).where(and(inArray(accounts.id, [...ids]), eq(accounts.managed, true))).orderBy(asc(accounts.id))
    },

    async addParts (parts: ReadonlyArray<Pick<AccountPartRow, 'requestId' | 'accountId' | 'connectors' | 'dueAt'>>, tx: TxHandle): Promise<void> {
      if (parts.length === 0) return
      await tx.db.insert(requestAccounts).values(parts.map((p) => ({ ...p, connectors: [...p.connectors] }))).onConflictDoNothing()
    },

    /** A request's account parts, by account. */
    async parts (requestId: string, tx: TxHandle = dbh): Promise<AccountPartRow[]> {
      return tx.db.select().from(requestAccounts).where(eq(requestAccounts.requestId, requestId)).orderBy(asc(requestAccounts.accountId))
    },

    /** How many of a request's account parts still wait for their administrator. */
    async awaiting (requestId: string, tx: TxHandle = dbh): Promise<number> {
      const [row] = await tx.rows<{ n: number }>(sql`select count(*)::int as n from request_accounts where request_id = ${requestId} and state = 'awaiting'`)
      return Number(row?.n ?? 0)
    },

    /** The administrator's decision on a waiting part; null when the part is not waiting (decided before, or none). */
    async decide (requestId: string, accountId: string, input: { state: Exclude<AccountPartState, 'awaiting'>, reference: string, by: string, at: Date }, tx: TxHandle): Promise<AccountPartRow | null> {
      const [row] = await tx.db.update(requestAccounts)
        .set({ state: input.state, reference: input.reference, decidedBy: input.by, decidedAt: input.at })
        .where(and(eq(requestAccounts.requestId, requestId), eq(requestAccounts.accountId, accountId), eq(requestAccounts.state, 'awaiting')))
        .returning()
      return row ?? null
    },

    /** Waiting parts whose administrators, or the person, were not told yet. */
    async unnotified (requestId: string, tx: TxHandle = dbh): Promise<AccountPartRow[]> {
      return tx.db.select().from(requestAccounts)
        .where(and(eq(requestAccounts.requestId, requestId), eq(requestAccounts.state, 'awaiting'), or(isNull(requestAccounts.notifiedAt), isNull(requestAccounts.personToldAt))))
    },

    /**
     * Requests with a waiting part someone was not told of, routed before `before` (so that a request
     * being told right now is left to its own job): the deadline job tells them again.
     */
    async stillUntold (before: Date, limit: number, tx: TxHandle = dbh): Promise<string[]> {
      const rows = await tx.db.selectDistinct({ requestId: requestAccounts.requestId }).from(requestAccounts)
        .where(and(eq(requestAccounts.state, 'awaiting'), or(isNull(requestAccounts.notifiedAt), isNull(requestAccounts.personToldAt)), lt(requestAccounts.createdAt, before)))
        .limit(limit)
      return rows.map((r) => r.requestId)
    },

    /** Marks who of a part was told: its administrators, or the person. */
    async markNotified (requestId: string, accountId: string, who: 'administrators' | 'person', at: Date, tx: TxHandle = dbh): Promise<void> {
      await tx.db.update(requestAccounts).set(who === 'administrators' ? { notifiedAt: at } : { personToldAt: at })
        .where(and(eq(requestAccounts.requestId, requestId), eq(requestAccounts.accountId, accountId)))
    }
  }
}

export type AccountsRepository = ReturnType<typeof createAccountsRepository>
