import { AsyncLocalStorage } from 'node:async_hooks'
import { sql, type SQL } from 'drizzle-orm'

/**
 * The customer account the current API call is limited to, when its key is bound to one (a tenant
 * key). Set once per call by the auth plugin; read by the repositories, which add it to every read
 * and lock of a request, so that a tenant key sees and acts on its account's requests only, whatever
 * route or service the call goes through. The workers never run in a tenant's scope.
 */
const scope = new AsyncLocalStorage<{ account: string }>()

/** Runs `fn` (and everything it awaits) limited to `account`. */
export function runAsTenant<T> (account: string, fn: () => T): T {
  return scope.run({ account }, fn)
}

/** The account the current call is limited to; undefined for the company's own keys and the workers. */
export function tenantAccount (): string | undefined {
  return scope.getStore()?.account
}

/**
 * The condition that limits rows to the current tenant's requests (a part of the request belongs
 * to its account), on the column holding the request's id; undefined outside a tenant's scope.
 */
export function tenantRequests (requestId: SQL | { getSQL (): SQL }): SQL | undefined {
  const account = tenantAccount()
  if (account === undefined) return undefined
  return sql`exists (select 1 from request_accounts ra where ra.request_id = ${requestId} and ra.account_id = ${account})`
}
