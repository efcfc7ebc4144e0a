import type { TxHandle } from '../db/client.js'
import type { RequestRow } from '../db/repositories/requests-repository.js'
import { recordEvent, transitionIn } from '../db/repositories/requests-repository.js'
import type { TaskRow, TasksRepository } from '../db/repositories/tasks-repository.js'
import type { RequestType } from '../domain/requests.js'
import type { Capability } from '../../connectors/types.js'
import type { ConnectorRegistry } from '../connectors/registry.js'
import { taskJobOptions, taskQueue, type Boss } from './queue.js'

/** Which connector action fulfils each request type. */
export const ACTION_FOR_TYPE: Record<RequestType, Capability> = {
  access: 'collect',
  portability: 'collect',
  erasure: 'erase',
  rectification: 'rectify',
  restriction: 'restrict',
  objection: 'restrict',
  consent_withdrawal: 'opt_out',
  marketing_opt_out: 'opt_out'
}

/**
 * Plans a ready request: one task per connector able to do its action, each with its job, in the
 * caller's transaction; then moves the request to in_progress. With no capable connector the
 * request stays ready, with an event saying so, for a person to handle.
 */
export async function planRequest (tx: TxHandle, request: RequestRow, deps: {
  registry: ConnectorRegistry
  tasks: TasksRepository
  boss: Boss
  actor: string
}): Promise<TaskRow[]> {
  const action = ACTION_FOR_TYPE[request.type]
  const capable = [...deps.registry.values()].filter((c) => c.capabilities.includes(action))
  const planned = await deps.tasks.plan(tx, request.id, action, capable.map((c) => ({ id: c.id, maxAttempts: c.maxAttempts })))
  for (const task of planned) {
    const connector = deps.registry.get(task.connectorId)!
    await deps.boss.send(taskQueue(task.connectorId), { taskId: task.id }, taskJobOptions(connector.timeoutMs, undefined, tx.executor))
  }
  await recordEvent(tx, request.id, deps.actor, 'planned', null, {
    action, connectors: planned.map((t) => t.connectorId)
  })
  if (planned.length > 0) await transitionIn(tx, request.id, 'in_progress', deps.actor, `${planned.length} task(s) planned`)
  return planned
}
