import type { FastifyBaseLogger } from 'fastify'
import type { DbHandle, TxHandle } from '../db/client.js'
import type { RequestRow, RequestsRepository } from '../db/repositories/requests-repository.js'
import { createAccountsRepository, type AccountRow } from '../db/repositories/accounts-repository.js'
import { createCallbacksRepository } from '../db/repositories/callbacks-repository.js'
import type { Candidate } from '../domain/identity.js'
import { administratorMessage, endUserMessage } from '../domain/accounts.js'
import type { Notifier } from '../notify/notifier.js'
import type { TasksRepository } from '../db/repositories/tasks-repository.js'
import type { ConnectorRegistry } from '../connectors/registry.js'
import type { Boss } from '../jobs/queue.js'
import { planRequest } from './planner.js'

/** The actor of what routing writes. */
const ACTOR = 'engine'
const DAY_MS = 86_400_000
/** How long after routing a part is left to the job that routed it, before the deadline job tells whoever is still untold. */
const UNTOLD_GRACE_MS = 5 * 60_000

/** Where a checked request goes: the managed accounts whose part waits, and whether the company has a part of its own. */
export interface Routed { managed: AccountRow[], own: boolean }

/**
 * Routing of a managed account's end users to their administrator. For a managed account the
 * company is the processor and the account's administrator the controller: the person's records in
 * that account are not acted on at the person's word alone. Each such account gets a part of the
 * request that waits (`request_accounts`, due after the account's assistance days, GDPR Art
 * 28(3)(e)); its administrators are e-mailed, its callback_url (where it has one) is sent a signed
 * notice, and the person is told to contact their administrator.
 * Records of no account, or of an account that is not managed, are the company's own part, which
 * runs at once.
 */
export function createControllerRouting (deps: {
  dbh: DbHandle
  requests: RequestsRepository
  notifier: Notifier | null
  /** ACCOUNT_ASSISTANCE_DAYS: when a waiting part is due, for accounts that do not say. */
  assistanceDays: number
  /** Where administrators reach the API (PUBLIC_URL). */
  publicUrl: string
  log: FastifyBaseLogger
}) {
  const accounts = createAccountsRepository(deps.dbh)
  const callbacks = createCallbacksRepository(deps.dbh)

  /** In the identity check's transaction: the waiting parts of the person found (`candidate`), with their event. */
  async function routeIn (request: RequestRow, candidate: Candidate | undefined, at: Date, tx: TxHandle): Promise<Routed> {
    const found = candidate?.accounts ?? []
    const managed = await accounts.managedAmong(found.map((f) => f.account), tx)
    if (managed.length === 0) return { managed: [], own: true }
    const parts = found.filter((f) => managed.some((m) => m.id === f.account))
    const own = (candidate?.records ?? 0) > parts.reduce((n, p) => n + p.records, 0)
    await accounts.addParts(managed.map((m) => ({
      requestId: request.id,
      accountId: m.id,
      connectors: parts.find((p) => p.account === m.id)!.systems,
      dueAt: new Date(at.getTime() + (m.assistanceDays ?? deps.assistanceDays) * DAY_MS)
    })), tx)
    // The account's own systems, where it named a callback_url: sent with retries by the callbacks' outbox.
    for (const m of managed) if (m.callbackUrl) await callbacks.queueAccountNotice(request.id, m.id, own ? 'in_progress' : 'awaiting_controller', at, tx)
    await deps.requests.recordEvent(request.id, ACTOR, 'controller_routed',
      `records of the person in ${managed.map((m) => m.name).join(', ')} are managed for the account's administrator: that part waits for their instruction` +
        (own ? '; the company\'s own part runs now' : ''),
      { accounts: managed.map((m) => m.id), own, records: parts.map((p) => ({ account: p.account, systems: p.systems, records: p.records })) }, tx)
    return { managed, own }
  }

  /**
   * A checked request, once the person is known (`candidate`, the identity check's or a reviewer's
   * choice), in the caller's transaction: routed, then planned (its own part, when it has one) or left
   * waiting in awaiting_controller. True when parts wait: their administrators are to be told (notify).
   */
  async function routeAndPlan (request: RequestRow, candidate: Candidate | undefined, plan: { registry: ConnectorRegistry, tasks: TasksRepository, boss: Boss, actor: string }, tx: TxHandle): Promise<boolean> {
    const routed = await routeIn(request, candidate, new Date(), tx)
    const accounts = routed.managed.map((m) => m.id)
    if (routed.managed.length > 0 && !routed.own) {
      await deps.requests.transitionFrom(request, 'awaiting_controller', plan.actor,
        `every record found is managed for ${routed.managed.map((m) => m.name).join(', ')}: waiting for the administrator's instruction`, { accounts }, tx)
    } else {
      await planRequest(request, { ...plan, requests: deps.requests, excludedAccounts: accounts }, tx)
    }
    return routed.managed.length > 0
  }

  /**
   * Tells the administrators of each waiting part not told yet, and the person (when the request
   * has an e-mail address). Idempotent, per addressee: the administrators are marked once their
   * e-mails were accepted, the person once theirs was, so that a retry after one failed sends only
   * what is missing. A failure throws: the job that called it is retried, and the deadline job tells
   * whoever is still untold (tellUntold). Without a notifier nothing can be sent: the trail says so,
   * and the waiting part shows in the administrators' own view of the API.
   */
  async function notify (request: RequestRow): Promise<void> {
    const due = await accounts.unnotified(request.id)
    if (due.length === 0) return
    const all = await accounts.managedAmong(due.map((d) => d.accountId))
    if (!deps.notifier) {
      if (due.every((d) => d.notifiedAt === null)) {
        deps.log.warn({ requestId: request.id, accounts: due.map((d) => d.accountId) }, 'administrators not told: no SMTP_URL')
        await deps.requests.recordEvent(request.id, ACTOR, 'controller_not_notified', 'no notifier is configured (SMTP_URL): tell the administrators yourself', { accounts: due.map((d) => d.accountId) })
      }
      return
    }
    const email = (request.subject as { email?: string }).email
    for (const part of due) {
      const account = all.find((a) => a.id === part.accountId)
      if (!account) continue
      if (part.notifiedAt === null) {
        for (const admin of account.admins) {
          await deps.notifier.send({ to: admin.email, ...administratorMessage({ account, request, dueAt: part.dueAt, publicUrl: deps.publicUrl }) })
        }
        await accounts.markNotified(request.id, part.accountId, 'administrators', new Date())
        // With no address to tell the person at, their side is done too.
        if (!email) await accounts.markNotified(request.id, part.accountId, 'person', new Date())
        await deps.requests.recordEvent(request.id, ACTOR, 'controller_notified', `the administrators of ${account.name} were told`,
          { account: account.id, administrators: account.admins.length, notifier: deps.notifier.name, person_to_tell: Boolean(email) })
      }
      if (email !== undefined && part.personToldAt === null) {
        await deps.notifier.send({ to: email, ...endUserMessage(account) })
        await accounts.markNotified(request.id, part.accountId, 'person', new Date())
        await deps.requests.recordEvent(request.id, ACTOR, 'controller_person_told', `the person was told to contact the administrators of ${account.name}`,
          { account: account.id, notifier: deps.notifier.name })
      }
    }
  }

  /**
   * The deadline job's sweep: every request with a waiting part someone was not told of, routed
   * more than a few minutes ago, is told again (notify), each on its own; one that fails again is
   * counted and tried at the next run. So a relay that was down through all of a job's retries
   * still tells everyone once it is back.
   */
  async function tellUntold (now: Date): Promise<{ told: number, failed: number }> {
    if (!deps.notifier) return { told: 0, failed: 0 }
    const ids = await accounts.stillUntold(new Date(now.getTime() - UNTOLD_GRACE_MS), 200)
    let told = 0
    let failed = 0
    for (const id of ids) {
      const request = await deps.requests.findById(id)
      if (!request) continue
      try {
        await notify(request)
        told++
      } catch (err) {
        failed++
        deps.log.warn({ requestId: id, reason: (err as { reason?: string }).reason ?? 'error' }, 'administrators or the person still not told')
      }
    }
    return { told, failed }
  }

  return { routeAndPlan, notify, tellUntold }
}

export type ControllerRouting = ReturnType<typeof createControllerRouting>
