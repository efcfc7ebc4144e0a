import type { DbHandle } from '../db/client.js'
import { createAccountsRepository, type AccountPartRow, type AccountRow } from '../db/repositories/accounts-repository.js'
import type { RequestsRepository } from '../db/repositories/requests-repository.js'
import type { TasksRepository } from '../db/repositories/tasks-repository.js'
import type { ConnectorRegistry } from '../connectors/registry.js'
import type { Finalizer } from '../engine/finalize.js'
import { planAccountPart } from '../engine/planner.js'
import { tenantAccount } from '../db/tenant-scope.js'
import { endUserText } from '../domain/accounts.js'
import { refusalProvision } from '../domain/refusal-grounds.js'
import { Errors } from '../errors.js'
import type { ControllerDecision, PutAccount } from '../schemas/accounts.js'

/** An account as the API answers it. */
export function accountResource (a: AccountRow) {
  return {
    id: a.id,
    name: a.name,
    managed: a.managed,
    admins: a.admins,
    assistance_days: a.assistanceDays,
    callback_url: a.callbackUrl,
    created_at: a.createdAt.toISOString(),
    updated_at: a.updatedAt.toISOString()
  }
}

function partResource (p: AccountPartRow, account: AccountRow | undefined) {
  const name = account?.name ?? p.accountId
  return {
    account: p.accountId,
    account_name: name,
    state: p.state,
    systems: p.connectors,
    due_at: p.dueAt.toISOString(),
    notified_at: p.notifiedAt?.toISOString() ?? null,
    person_told_at: p.personToldAt?.toISOString() ?? null,
    reference: p.reference,
    decided_at: p.decidedAt?.toISOString() ?? null,
    message: p.state === 'awaiting'
      ? endUserText({ name })
      : p.state === 'instructed'
        ? `The administrator of ${name} instructed us: your data in ${name} is handled with the rest of your request.`
        : `The administrator of ${name} did not instruct us to act on your data in ${name}: please contact your administrator.`
  }
}

/**
 * Customer accounts, and the administrator's decision on a request's part that belongs to a managed
 * account (engine/controller-routing.ts): instructed, the part is planned, limited to the account's
 * records; declined, it is left alone. A request none of whose parts is left to run is closed: by
 * its tasks when it has some, rejected on the ground `controller_declined` when every part was declined.
 */
export function createAccountsService (deps: {
  dbh: DbHandle
  registry: ConnectorRegistry
  tasks: TasksRepository
  requests: RequestsRepository
  finalizer: Finalizer
  /** Why an account's callback_url would never be called (CALLBACK_ALLOWLIST), or null. */
  callbackRefusal: (url: string) => string | null
}) {
  const { dbh, tasks, requests } = deps
  const accounts = createAccountsRepository(dbh)

  /** A tenant key reaches its own account only; any other is not found. */
  function visible (id: string): void {
    const own = tenantAccount()
    if (own !== undefined && own !== id) throw new Errors.AccountNotFound(id)
  }

  return {
    async list () {
      const own = tenantAccount()
      return { data: (await accounts.list()).filter((a) => own === undefined || a.id === own).map(accountResource) }
    },

    async get (id: string) {
      visible(id)
      const row = await accounts.get(id)
      if (!row) throw new Errors.AccountNotFound(id)
      return accountResource(row)
    },

    async put (id: string, input: PutAccount): Promise<{ account: ReturnType<typeof accountResource>, created: boolean }> {
      // Accepted means called: a callback_url the configuration would never call is refused, not stored.
      const refusal = input.callback_url ? deps.callbackRefusal(input.callback_url) : null
      if (refusal) throw new Errors.CallbackUrlNotAllowed(refusal)
      const { row, created } = await accounts.put({
        id, name: input.name, managed: input.managed, admins: input.admins, assistanceDays: input.assistance_days ?? null, callbackUrl: input.callback_url ?? null
      })
      return { account: accountResource(row), created }
    },

    /** The request's parts of managed accounts, each with what the person is told (a tenant key: its own account's part). */
    async parts (requestId: string) {
      const request = await requests.findById(requestId, undefined, { part: true })
      if (!request) throw new Errors.RequestNotFound(requestId)
      const own = tenantAccount()
      const parts = (await accounts.parts(requestId)).filter((p) => own === undefined || p.accountId === own)
      const known = await accounts.list()
      return {
        request_id: request.id,
        request_type: request.type,
        subject: request.subject,
        data: parts.map((p) => partResource(p, known.find((a) => a.id === p.accountId)))
      }
    },

    async decide (requestId: string, input: ControllerDecision, actor: string) {
      visible(input.account)
      await dbh.transaction(async (tx) => {
        const request = await tasks.lockRequest(requestId, { part: true }, tx)
        if (!request) throw new Errors.RequestNotFound(requestId)
        const state = input.decision === 'instruct' ? 'instructed' as const : 'declined' as const
        const part = await accounts.decide(requestId, input.account, { state, reference: input.reference, by: actor, at: new Date() }, tx)
        if (!part) {
          const current = (await accounts.parts(requestId, tx)).find((p) => p.accountId === input.account)
          throw new Errors.AccountPartNotAwaiting(input.account, current?.state ?? 'not part of this request')
        }
        await requests.recordEvent(requestId, actor, state === 'instructed' ? 'controller_instructed' : 'controller_declined',
          `the administrator of ${input.account} ${state === 'instructed' ? 'instructed' : 'declined'} (reference ${input.reference})`,
          { account: input.account, reference: input.reference }, tx)
        const planned = state === 'instructed' ? await planAccountPart(request, part, { registry: deps.registry, tasks, requests, actor }, tx) : []
        if (request.status !== 'awaiting_controller') return
        if (planned.length > 0) {
          await requests.transitionFrom(request, 'in_progress', actor, `${planned.length} task(s) planned for account ${input.account}`, undefined, tx)
          return
        }
        if (await accounts.awaiting(requestId, tx) > 0) return
        if ((await tasks.statusCounts(requestId, tx)).size > 0) {
          await deps.finalizer.finalizeIfDone(requestId, actor, { locked: request }, tx)
          return
        }
        // Nothing of the request is left to do: every part was declined (or could not be planned).
        const provision = refusalProvision('controller_declined', request.regime, request.type) ?? 'reasons stated'
        const explanation = input.explanation ?? `The administrator of ${input.account} manages this data and did not instruct us to act on it: please contact your administrator.`
        const moved = await requests.transitionFrom(request, 'rejected', actor, 'refused: controller_declined', { ground: 'controller_declined', provision }, tx)
        if (moved.status === 'moved') await requests.setRefusal(requestId, { ground: 'controller_declined', provision, explanation, by: actor, at: new Date().toISOString() }, tx)
      })
      return this.parts(requestId)
    }
  }
}

export type AccountsService = ReturnType<typeof createAccountsService>
