import type { TxHandle } from '../db/client.js'
import type { RequestRow, RequestsRepository } from '../db/repositories/requests-repository.js'
import type { TaskRow, TasksRepository } from '../db/repositories/tasks-repository.js'
import type { RequestType } from '../domain/requests.js'
import { ACTIONS, implementsAction, type Capability, type TaskAction } from '../../connectors/types.js'
import type { ConnectorInstance, ConnectorRegistry } from '../connectors/registry.js'
import { enqueue, identifyJob, queueTasks, type Boss } from '../jobs/queue.js'
import { needsIdentityCheck, type IdentityCheckMode } from '../domain/identity.js'
import { anyManagedAccount } from '../db/repositories/accounts-repository.js'

/**
 * Which connector actions fulfil each request type; each is planned on every connector able to do it.
 * An objection restricts processing while it is weighed (GDPR Art 18(1)(d)) and stops direct
 * marketing at once, since an objection to direct marketing is absolute (Art 21(3)): a connector
 * able to do both gets both tasks.
 */
export const ACTIONS_FOR_TYPE: Record<RequestType, readonly Capability[]> = {
  access: ['collect'],
  portability: ['collect'],
  erasure: ['erase'],
  rectification: ['rectify'],
  restriction: ['restrict'],
  objection: ['restrict', 'opt_out'],
  consent_withdrawal: ['opt_out'],
  marketing_opt_out: ['opt_out']
}

/**
 * Whether a connector can carry out `action`: it declares the capability and implements it. Some
 * capabilities depend on settings (a postgres connector restricts only where a table says how to mark
 * rows), so the implementation is checked too.
 */
export function canDo (instance: ConnectorInstance, action: TaskAction): boolean {
  return instance.capabilities.includes(ACTIONS[action].capability) && implementsAction(instance.connector, action)
}

/**
 * Plans a ready request: one task per connector and action able to fulfil its type, each with its
 * job, in the caller's transaction; then moves the request to in_progress. With no capable connector
 * the request stays ready, with an event saying so, for a person to handle.
 */
export async function planRequest (request: RequestRow, deps: {
  registry: ConnectorRegistry
  tasks: TasksRepository
  requests: RequestsRepository
  boss: Boss
  actor: string
  /**
   * IDENTITY_CHECK: when the request needs it, nothing is planned yet: the identity check is queued
   * (engine/identify.ts), and plans the request once it knows whom its identifiers lead to.
   */
  identityCheck?: IdentityCheckMode
  /** Managed accounts whose records wait for their administrators: the tasks leave them alone. */
  excludedAccounts?: readonly string[]
}, tx: TxHandle): Promise<TaskRow[]> {
  if (deps.identityCheck && await startIdentityCheck(request, { ...deps, mode: deps.identityCheck }, tx)) return []
  const planned: TaskRow[] = []
  const work = planFor(deps.registry, request.type, { everySystem: request.child && request.type === 'erasure' })
  for (const action of ACTIONS_FOR_TYPE[request.type]) {
    const mine = work.filter((w) => w.action === action)
    if (mine.length === 0) continue
    const rows = await deps.tasks.plan(request.id, action, mine.map((w) => ({ id: w.connector.id, maxAttempts: w.connector.maxAttempts, instructions: w.instructions })), tx,
      deps.excludedAccounts ? { excludedAccounts: deps.excludedAccounts } : {})
    await queueTasks(rows.filter((t) => t.status === 'pending'), tx)
    planned.push(...rows)
  }
  await deps.requests.recordEvent(request.id, deps.actor, 'planned', null, plannedDetails(request.type, planned, deps.registry), tx)
  if (planned.length > 0) await deps.requests.transitionIn(request.id, 'in_progress', deps.actor, startedReason(planned.length), undefined, tx)
  return planned
}

/** One piece of planned work: an action on a connector, automatic, or manual with a person's instructions. */
export interface PlannedWork { action: Capability, connector: ConnectorInstance, instructions: string | null }

/**
 * What a request of `type` needs, per action and connector: automatic where the connector can do it
 * (and its file does not say a person does everything there), manual where its file says what a
 * person does instead, nothing where the file says the action does not apply to that system.
 */
export function planFor (registry: ConnectorRegistry, type: RequestType, opts: {
  /**
   * Every configured system gets a task (a child's erasure, domain/children.ts): a system whose
   * connector cannot do the action, or whose connector file says it does not apply, gets one for a
   * person, who checks and records the outcome.
   */
  everySystem?: boolean
} = {}): PlannedWork[] {
  const work: PlannedWork[] = []
  for (const action of ACTIONS_FOR_TYPE[type]) {
    for (const connector of registry.values()) {
      const manual = connector.manual
      if (!manual?.only && canDo(connector, action)) work.push({ action, connector, instructions: null })
      else if (manual && !manual.notApplicable[action]) {
        work.push({ action, connector, instructions: manual.instructions[action] ?? manual.instructions.default ?? defaultInstructions(action, connector) })
      } else if (opts.everySystem === true) {
        const notApplicable = manual?.notApplicable[action]
        work.push({
          action,
          connector,
          instructions: `${defaultInstructions(action, connector)} This request is about a child, so it reaches every system` +
            (notApplicable ? `, although the connector file says: ${notApplicable}` : '') + '.'
        })
      }
    }
  }
  return work
}

const ACTION_WORDS: Record<Capability, string> = {
  collect: 'Find every record of the person and attach or reference a copy',
  erase: "Erase the person's records (keep only what the law requires, and say what and why)",
  rectify: "Correct the person's records as the request's changes say",
  restrict: "Mark the person's records so that they are not processed further",
  opt_out: 'Stop marketing to the person (unsubscribe them, keeping the opt-out on record)',
  retention: 'Delete what is past its retention period'
}

function defaultInstructions (action: Capability, connector: ConnectorInstance): string {
  return `${ACTION_WORDS[action]} in ${connector.displayName}, then record the outcome on this task.`
}

/**
 * Plans the part of a request that belongs to a managed account, once its administrator instructed
 * it: each action of the request's type on the systems that hold the person's records of that
 * account, limited to those records. In the caller's transaction; the workers wake as it commits.
 */
export async function planAccountPart (request: RequestRow, part: { accountId: string, connectors: readonly string[] }, deps: {
  registry: ConnectorRegistry
  tasks: TasksRepository
  requests: RequestsRepository
  actor: string
}, tx: TxHandle): Promise<TaskRow[]> {
  const planned: TaskRow[] = []
  for (const action of ACTIONS_FOR_TYPE[request.type]) {
    const mine = part.connectors.flatMap((id) => {
      const c = deps.registry.get(id)
      return c && !c.manual?.only && canDo(c, action) ? [{ id: c.id, maxAttempts: c.maxAttempts }] : []
    })
    const rows = await deps.tasks.plan(request.id, action, mine, tx, { accountId: part.accountId })
    await queueTasks(rows, tx)
    planned.push(...rows)
  }
  await deps.requests.recordEvent(request.id, deps.actor, 'planned', `the part of account ${part.accountId}, as its administrator instructed`,
    { ...plannedDetails(request.type, planned, deps.registry), account: part.accountId }, tx)
  return planned
}

/** The `planned` audit event's details: each task, and the systems the connector file says an action does not apply to. */
export function plannedDetails (type: RequestType, planned: ReadonlyArray<Pick<TaskRow, 'connectorId' | 'action' | 'status'>>, registry: ConnectorRegistry): Record<string, unknown> {
  const actions = ACTIONS_FOR_TYPE[type]
  const notApplicable = [...registry.values()].flatMap((c) => actions.flatMap((a) => {
    const reason = c.manual?.notApplicable[a]
    return reason ? [{ connector: c.id, action: a, reason }] : []
  }))
  return {
    ...(actions.length === 1 ? { action: actions[0] } : {}),
    actions,
    connectors: [...new Set(planned.map((t) => t.connectorId))],
    tasks: planned.map((t) => ({ connector: t.connectorId, action: t.action, ...(t.status === 'manual' ? { manual: true } : {}) })),
    ...(notApplicable.length > 0 ? { not_applicable: notApplicable } : {})
  }
}

/** The reason on the transition to in_progress. */
export const startedReason = (tasks: number) => `${tasks} task(s) planned`

/** One automatic `action` task per connector (configured ones), in the caller's transaction; their workers are woken when it commits. */
export async function planTasks (requestId: string, action: TaskAction, connectorIds: readonly string[], deps: {
  registry: ConnectorRegistry
  tasks: TasksRepository
  boss: Boss
}, tx: TxHandle): Promise<TaskRow[]> {
  const connectors = connectorIds.map((id) => deps.registry.get(id)!)
  const planned = await deps.tasks.plan(requestId, action, connectors.map((c) => ({ id: c.id, maxAttempts: c.maxAttempts })), tx)
  await queueTasks(planned, tx)
  return planned
}

/** The systems the identity check asks: those whose connector can tell whom identifiers lead to. */
export function identifyingSystems (registry: ConnectorRegistry): ConnectorInstance[] {
  return [...registry.values()].filter((c) => !c.manual?.only && typeof c.connector.identify === 'function')
}

/**
 * Whether every request is checked because of customer accounts: some system keeps records per
 * account and some account is managed, so that a managed account's end user waits for their
 * administrator (engine/controller-routing.ts). Asks the database only when a system reports accounts.
 */
export async function checksAccounts (registry: ConnectorRegistry, mode: IdentityCheckMode, tx: TxHandle): Promise<boolean> {
  if (mode === 'off' || !identifyingSystems(registry).some((c) => c.connector.reportsAccounts === true)) return false
  return anyManagedAccount(tx)
}

/**
 * The `identity_check_started` event, when a request is checked before it is planned (IDENTITY_CHECK,
 * or `perAccount`: see checksAccounts); null when it is not.
 */
export function identityCheckEvent (subject: RequestRow['subject'], registry: ConnectorRegistry, mode: IdentityCheckMode, perAccount = false): { reason: string, details: Record<string, unknown> } | null {
  const systems = identifyingSystems(registry)
  if (systems.length === 0 || (!perAccount && !needsIdentityCheck(mode, subject as never))) return null
  return { reason: `checking whom the identifiers lead to in ${systems.length} system(s) before any task`, details: { systems: systems.map((c) => c.id) } }
}

/**
 * Queues the identity check of a ready request in the caller's transaction, with its event, when
 * IDENTITY_CHECK asks for it and some system can answer; false when the request is planned at once.
 */
export async function startIdentityCheck (request: RequestRow, deps: { registry: ConnectorRegistry, requests: RequestsRepository, boss: Boss, actor: string, mode: IdentityCheckMode }, tx: TxHandle): Promise<boolean> {
  const event = identityCheckEvent(request.subject, deps.registry, deps.mode, await checksAccounts(deps.registry, deps.mode, tx))
  if (!event) return false
  await deps.requests.recordEvent(request.id, deps.actor, 'identity_check_started', event.reason, event.details, tx)
  await enqueue(deps.boss, [identifyJob(request.id)], tx)
  return true
}
