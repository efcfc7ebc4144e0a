import type { TxHandle } from '../db/client.js'
import type { RequestRow, RequestsRepository } from '../db/repositories/requests-repository.js'
import type { TaskRow, TasksRepository } from '../db/repositories/tasks-repository.js'
import type { RequestType } from '../domain/requests.js'
import { ACTIONS, implementsAction, type Capability, type TaskAction } from '../../connectors/types.js'
import type { ConnectorInstance, ConnectorRegistry } from '../connectors/registry.js'
import { queueTasks, type Boss } from '../jobs/queue.js'

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
}, tx: TxHandle): Promise<TaskRow[]> {
  const planned: TaskRow[] = []
  for (const { action, connectors } of planFor(deps.registry, request.type)) {
    planned.push(...await planTasks(request.id, action, connectors.map((c) => c.id), deps, tx))
  }
  await deps.requests.recordEvent(request.id, deps.actor, 'planned', null, plannedDetails(request.type, planned), tx)
  if (planned.length > 0) await deps.requests.transitionIn(request.id, 'in_progress', deps.actor, startedReason(planned.length), undefined, tx)
  return planned
}

/** Per action a request of `type` needs, the connectors able to carry it out. */
export function planFor (registry: ConnectorRegistry, type: RequestType): Array<{ action: Capability, connectors: ConnectorInstance[] }> {
  return ACTIONS_FOR_TYPE[type].map((action) => ({ action, connectors: [...registry.values()].filter((c) => canDo(c, action)) }))
}

/** The `planned` audit event's details. */
export function plannedDetails (type: RequestType, planned: ReadonlyArray<Pick<TaskRow, 'connectorId' | 'action'>>): Record<string, unknown> {
  const actions = ACTIONS_FOR_TYPE[type]
  return {
    ...(actions.length === 1 ? { action: actions[0] } : {}),
    actions,
    connectors: [...new Set(planned.map((t) => t.connectorId))],
    tasks: planned.map((t) => ({ connector: t.connectorId, action: t.action }))
  }
}

/** The reason on the transition to in_progress. */
export const startedReason = (tasks: number) => `${tasks} task(s) planned`

/** One `action` task per connector (configured ones), in the caller's transaction; their workers are woken when it commits. */
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
