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
 * The condition that limits rows to the current tenant's requests, on the column holding the
 * request's id; undefined outside a tenant's scope. A request is the tenant's when a part of it
 * belongs to its account and everything done with the person's data is the account's: no task of
 * the company's own part or of another account, and no other account's part instructed. A request
 * that also holds the company's or another customer's data is not found with a tenant key, except
 * for deciding its own part (`tenantParts`).
 */
export function tenantRequests (requestId: SQL | { getSQL (): SQL }): SQL | undefined {
  const account = tenantAccount()
  if (account === undefined) return undefined
  return sql`(exists (select 1 from request_accounts ra where ra.request_id = ${requestId} and ra.account_id = ${account})
    and not exists (select 1 from tasks tt where tt.request_id = ${requestId} and tt.account_id is distinct from ${account})
    and not exists (select 1 from request_accounts ro where ro.request_id = ${requestId} and ro.account_id <> ${account} and ro.state = 'instructed'))`
}

/** The weaker condition for deciding the tenant's own part of a request (and reading that part): a part of it belongs to the account. */
export function tenantParts (requestId: SQL | { getSQL (): SQL }): SQL | undefined {
  const account = tenantAccount()
  if (account === undefined) return undefined
  return sql`exists (select 1 from request_accounts ra where ra.request_id = ${requestId} and ra.account_id = ${account})`
}

/**
 * A tenant's view of a request's trail: events about one account's part only where it is the
 * tenant's (`details.account`), and none that list accounts (`details.accounts`: the routing, which
 * names every customer the person was found in). Undefined outside a tenant's scope.
 */
export function tenantEvents (details: SQL | { getSQL (): SQL }): SQL | undefined {
  const account = tenantAccount()
  if (account === undefined) return undefined
  return sql`(coalesce(${details}->>'account', ${account}) = ${account} and ${details}->'accounts' is null)`
}

/** A tenant's view of a request's callback deliveries: the request's own and its account's notices, not another account's. */
export function tenantCallbacks (accountId: SQL | { getSQL (): SQL }): SQL | undefined {
  const account = tenantAccount()
  if (account === undefined) return undefined
  return sql`(${accountId} is null or ${accountId} = ${account})`
}
