import type { FastifyBaseLogger } from 'fastify'
import type { DbHandle } from '../db/client.js'
import { createRequestsRepository } from '../db/repositories/requests-repository.js'
import type { ClaimedTask, NewCollectedItem, TaskRelease, TaskRow, TasksRepository } from '../db/repositories/tasks-repository.js'
import type { TaskResult } from '../db/schema.js'
import { OPEN_TASK_STATUSES } from '../domain/statuses.js'
import type { BlobStore } from '../storage/blob-store.js'
import type { ConnectorRegistry, ConnectorInstance } from '../connectors/registry.js'
import { ACTIONS, ConnectorError, ConnectorErrorCodes, OPT_OUT_PURPOSE_NAMES, type ConnectorContext, type OptOutPurposeName, type SubjectIdentity } from '../../connectors/types.js'
import type { Finalizer } from './finalize.js'
import { holdLease } from '../jobs/lease.js'
import { mayBeDown, type Circuit } from './circuit.js'
import { nextDelayMs } from './backoff.js'
import type { TaskMetrics } from '../services/metrics.js'
import { JobErrors } from '../errors.js'
import { checkErasure, ErasureResidueError } from './erasure-check.js'
import { createSuppressionsRepository } from '../db/repositories/suppressions-repository.js'
import { holdPlan, type HoldLookup } from './holds.js'

const BATCH = 500

export interface RunnerOptions {
  worker: string
  leaseMs: number
  retryBaseMs: number
  retryMaxMs: number
  /** Searches after an erasure, at most (ERASURE_CHECK_ATTEMPTS): see erasure-check.ts. */
  erasureCheckAttempts: number
}

/**
 * Runs one claimed task (TasksRepository.claimNext took its lease): calls the connector with a
 * timeout, stores what streams in, and records the outcome. Retryable failures are rescheduled
 * with exponential backoff and jitter (or the system's Retry-After); permanent ones fail the task
 * at once.
 */
export function createTaskRunner (deps: {
  dbh: DbHandle
  registry: ConnectorRegistry
  tasks: TasksRepository
  /** Closes the request when its last task finishes. */
  finalizer: Finalizer
  storage: BlobStore
  log: FastifyBaseLogger
  options: RunnerOptions
  /** The circuit breaker: tasks of a down connector wait instead of using up their attempts. */
  circuit?: Pick<Circuit, 'isDown' | 'check' | 'park'>
  metrics?: TaskMetrics
  /** Told when a task of this process will be due again, so an idle worker wakes for it. */
  onRetryDue?: (at: Date) => void
  /** Told when a request whose tasks are all finished could not be closed at once: another held its lock. */
  onCloseBusy?: (requestId: string) => void
  /** The active legal holds on a person: an erasure keeps the streams they cover. */
  holds?: HoldLookup
}) {
  const { tasks, options, finalizer } = deps
  const requests = createRequestsRepository(deps.dbh)
  const suppressionList = createSuppressionsRepository(deps.dbh)

  return async function runTask (claimed: ClaimedTask): Promise<void> {
    const { task, request } = claimed
    const log = deps.log.child({ taskId: task.id, connector: task.connectorId, action: task.action, attempt: task.attempts })
    const instance = deps.registry.get(task.connectorId)
    if (!instance) {
      await finish(task, { status: 'failed', errorCode: JobErrors.ConnectorNotConfigured.code, errorMessage: 'connector is not configured in this deployment', outcome: 'failed' })
      return
    }
    if (request.status === 'cancelled') {
      await finish(task, { status: 'skipped', outcome: 'skipped', errorMessage: 'request cancelled' })
      return
    }
    if (deps.circuit && claimed.connectorDown) {
      await deps.circuit.park(task, options.worker, `waiting for connector ${task.connectorId}: its latest health check says down`)
      deps.metrics?.taskAttempt(task.connectorId, task.action, 'waiting', 0)
      return
    }

    const lease = holdLease({ leaseMs: options.leaseMs, renew: () => tasks.heartbeat(task.id, options.worker, options.leaseMs), log })
    const timeout = setTimeout(lease.abort, instance.timeoutMs)
    const accounts = task.accountId !== null ? { only: [task.accountId] } : task.excludedAccounts?.length ? { except: task.excludedAccounts } : undefined
    const ctx: ConnectorContext = { requestId: task.requestId, subject: request.subject as SubjectIdentity, signal: lease.signal, log, ...(accounts ? { accounts } : {}) }
    const started = Date.now()
    // An attempt that has not settled long after its connector's timeout is waiting on something that
    // will never answer (a database call lost with its connection in a restart): it is given up, its
    // lease left to expire, so that the task is claimed and run again, here or elsewhere, and its
    // worker's slot is free. A late outcome of the given-up attempt changes nothing (releaseRun
    // matches the attempt).
    // The connector's work is bounded by its timeout; recording the outcome, by two leases.
    let hangTimer: NodeJS.Timeout | undefined
    let giveUp = (): void => {}
    const hung = new Promise<'hung'>((resolve) => { giveUp = () => resolve('hung') })
    const arm = (ms: number) => { clearTimeout(hangTimer); hangTimer = setTimeout(giveUp, ms) }
    arm(instance.timeoutMs + 2 * options.leaseMs)
    const attempt = async (): Promise<'settled'> => {
      try {
        const { result, lastItems } = task.action === 'collect'
          ? await collect(instance, task, ctx, claimed.ranBefore)
          : { result: await act(instance, task, ctx, request), lastItems: [] }
        arm(2 * options.leaseMs)
        await finish(task, { status: 'succeeded', result, outcome: 'succeeded' }, lastItems)
        deps.metrics?.taskAttempt(task.connectorId, task.action, 'succeeded', (Date.now() - started) / 1000)
        log.info({ ms: Date.now() - started }, 'task succeeded')
      } catch (err) {
        const e = lease.signal.aborted && !(err instanceof ConnectorError)
          ? new ConnectorError(ConnectorErrorCodes.Timeout, 'task timed out or lost its lease', { retryable: true })
          : asConnectorError(err)
        arm(2 * options.leaseMs)
        log.warn({ code: e.code, retryable: e.retryable, ms: Date.now() - started }, 'task attempt failed')
        const seconds = (Date.now() - started) / 1000
        if (deps.circuit && mayBeDown(e) && await confirmedDown(task.connectorId)) {
          await deps.circuit.park(task, options.worker, `waiting for connector ${task.connectorId}: ${e.code}, and a health check says down`)
          deps.metrics?.taskAttempt(task.connectorId, task.action, 'waiting', seconds)
        } else if (e.retryable && task.attempts < task.maxAttempts) {
          await retryLater(task, e)
          deps.metrics?.taskAttempt(task.connectorId, task.action, 'retry', seconds)
        } else {
          // A residue's counts go with the failure (streams and counts, never values).
          await finish(task, { status: 'failed', errorCode: e.code, errorMessage: e.message, outcome: 'failed', ...(e instanceof ErasureResidueError ? { result: e.result } : {}) })
          deps.metrics?.taskAttempt(task.connectorId, task.action, 'failed', seconds)
        }
      } finally {
        clearTimeout(timeout)
        lease.stop()
      }
      return 'settled'
    }
    try {
      const running = attempt()
      if (await Promise.race([running, hung]) === 'hung') {
        // Its late failure, if any, has no one left to tell, and must not end the process.
        running.catch((err: unknown) => log.warn({ err }, 'a given-up task attempt failed late'))
        lease.abort()
        lease.stop()
        log.error({ ms: Date.now() - started }, 'task attempt did not settle: given up, its lease left to expire so that it runs again')
      }
    } finally {
      clearTimeout(hangTimer)
    }
  }

  /** A quick live health check (stored), after a failure that looks like the system is down. */
  async function confirmedDown (connectorId: string): Promise<boolean> {
    try {
      return (await deps.circuit!.check(connectorId)).status === 'down'
    } catch (err) {
      deps.log.warn({ err, connector: connectorId }, 'health check after a failed attempt could not be stored')
      return false
    }
  }

  /** Streams the person's data in, batch by batch; the last batch is stored with the task's outcome (finish). */
  async function collect (instance: ConnectorInstance, task: TaskRow, ctx: ConnectorContext, ranBefore: boolean): Promise<{ result: TaskResult, lastItems: NewCollectedItem[] }> {
    if (ranBefore) await tasks.clearItems(task.id)
    const declared = new Set(instance.streams.map((s) => s.name))
    const streams: Record<string, number> = {}
    let records = 0
    let files = 0
    let bytes = 0
    let batch: NewCollectedItem[] = []
    const store = async (items: NewCollectedItem[]) => {
      if (!await tasks.storeItems(items, { taskId: task.id, worker: options.worker })) {
        throw new ConnectorError(ConnectorErrorCodes.Timeout, 'task lost its lease', { retryable: true })
      }
    }
    for await (const item of instance.connector.collect!(ctx)) {
      if (!declared.has(item.stream)) {
        throw new ConnectorError(JobErrors.ConnectorContract.code, `connector yielded undeclared stream ${item.stream}`, { retryable: false })
      }
      streams[item.stream] = (streams[item.stream] ?? 0) + 1
      const base = { requestId: task.requestId, taskId: task.id, connectorId: task.connectorId, stream: item.stream, itemKey: item.key }
      if (item.type === 'record') {
        records++
        batch.push({ ...base, kind: 'record', data: item.data })
      } else {
        files++
        const storageKey = `items/${task.requestId}/${task.id}/${files}`
        const stored = await deps.storage.put(storageKey, await item.open())
        bytes += stored.size
        batch.push({ ...base, kind: 'file', file: { name: item.name, contentType: item.contentType, size: stored.size, sha256: stored.sha256, storageKey } })
      }
      if (batch.length >= BATCH) {
        await store(batch)
        batch = []
      }
    }
    return { result: { records, files, bytes, streams }, lastItems: batch }
  }

  /**
   * Every action other than collect yields outcomes (counts per stream, never values), stored like
   * erase outcomes: erase, opt_out, rectify, and restrict/unrestrict (placing and lifting a restriction).
   */
  async function act (instance: ConnectorInstance, task: TaskRow, ctx: ConnectorContext, request: Pick<ClaimedTask['request'], 'changes' | 'optOutPurposes'>): Promise<TaskResult> {
    const c = instance.connector
    const method = ACTIONS[task.action].does
    if (method === 'collect' || method === 'sweep' || typeof c[method] !== 'function') {
      throw new ConnectorError(JobErrors.ConnectorUnsupported.code, `connector cannot ${task.action}`, { retryable: false })
    }
    // A mark is one flag per record, shared by every restriction of the person: lifting one
    // restriction leaves it while another is in force (the suppression list says which), and says why.
    if (task.action === 'unrestrict') {
      const others = await suppressionList.otherRestrictionsInForce(task.requestId)
      if (others.length > 0) {
        return {
          outcomes: [],
          kept: {
            reason: `the restriction mark stays: ${others.length} other restriction${others.length === 1 ? '' : 's'} of the person still in force`,
            restrictions: others.map((o) => ({ request_id: o.requestId, type: o.requestType }))
          }
        }
      }
    }
    if (task.action === 'erase' && deps.holds) {
      // A legal hold keeps what it covers: the whole system (erase is not called), or single streams
      // the connector leaves as they are (ctx.retain); each is reported retained with the hold's ground.
      const plan = holdPlan(instance, await deps.holds(ctx.subject))
      if (plan.whole) {
        ctx.log.info({ streams: plan.retain.length }, 'erasure kept: a legal hold covers this system')
        const outcomes = plan.retain.map((r) => ({ status: 'retained', ...r }))
        return { outcomes, verification: await checkErasure(instance, ctx, outcomes, { attempts: options.erasureCheckAttempts }) }
      }
      if (plan.retain.length > 0) {
        ctx = { ...ctx, retain: plan.retain }
        ctx.log.info({ streams: [...new Set(plan.retain.map((r) => r.stream))] }, 'erasure keeps streams under a legal hold')
      }
    }
    const purposes = optOutPurposesOf(request.optOutPurposes)
    const run = method === 'rectify'
      ? c.rectify!({ ...ctx, changes: Object.fromEntries((request.changes ?? []).map((ch) => [ch.field, String(ch.value ?? '')])) })
      : method === 'optOut'
        ? c.optOut!({ ...ctx, purposes })
        : c[method]!(ctx)
    const outcomes: NonNullable<TaskResult['outcomes']> = []
    for await (const outcome of run as AsyncIterable<NonNullable<TaskResult['outcomes']>[number]>) {
      // An opt-out says which of the asked purposes it stopped: one it was not asked for breaks the contract.
      if (method === 'optOut' && outcome.purposes?.some((p) => !(purposes as readonly string[]).includes(p))) {
        throw new ConnectorError(JobErrors.ConnectorContract.code, `connector reported an opt-out of a purpose not asked for in stream ${outcome.stream}`, { retryable: false })
      }
      outcomes.push({ ...outcome, ...(outcome.purposes ? { purposes: [...outcome.purposes] } : {}) })
    }
    const held = new Set((ctx.retain ?? []).map((r) => r.stream))
    if (outcomes.some((o) => o.status === 'erased' && held.has(o.stream))) {
      throw new ConnectorError(JobErrors.ConnectorContract.code, 'connector erased a stream under a legal hold', { retryable: false })
    }
    // An erasure is checked by searching the system again: residue fails the task (ErasureResidueError).
    if (task.action === 'erase') return { outcomes, verification: await checkErasure(instance, ctx, outcomes, { attempts: options.erasureCheckAttempts }) }
    return { outcomes }
  }

  async function retryLater (task: TaskRow, e: ConnectorError) {
    const delay = nextDelayMs({ attempt: task.attempts, baseMs: options.retryBaseMs, maxMs: options.retryMaxMs, retryAfterMs: e.retryAfterMs })
    const at = new Date(Date.now() + delay)
    const released = await deps.dbh.transaction((tx) => tasks.release(task, options.worker, {
      status: 'retry_wait', errorCode: e.code, errorMessage: e.message, nextAttemptAt: at, outcome: 'retry'
    }, tx))
    // Due again at `at`, when a claim takes it.
    if (released) deps.onRetryDue?.(at)
  }

  /**
   * Records the task's outcome (with the last collected items) only while this worker holds its
   * lease, and closes the request when it was the last task. The outcome commits on its own, in
   * one round trip with a count of the request's tasks after it (TasksRepository.finish); only
   * when none is left open is the request locked and closed (closeIfDone). A restriction placed
   * is recorded with the outcome, in one transaction under the request's lock.
   */
  async function finish (task: TaskRow, next: TaskRelease, lastItems: NewCollectedItem[] = []) {
    const event = {
      action: `task_${next.status}`,
      reason: next.errorMessage ?? null,
      details: {
        task_id: task.id,
        connector: task.connectorId,
        action: task.action,
        attempts: task.attempts,
        ...(next.errorCode ? { error_code: next.errorCode } : {}),
        ...(next.result ? { result: next.result } : {})
      }
    }
    if (task.action === 'restrict' && next.status === 'succeeded' && next.result?.outcomes?.some((o) => o.status === 'restricted')) {
      await deps.dbh.transaction(async (tx) => {
        // Sent together: the lock is taken first, and the statement behind it sees the request's tasks as they stand once it is.
        const [, counts] = await Promise.all([tasks.lockRequestOnly(task.requestId, tx), tasks.finishRun(task, options.worker, next, event, lastItems, tx)])
        if (!counts) return // the lease was lost: another worker owns the task now
        await requests.markRestrictionPlaced(task.requestId, tx)
        await finalizer.finalizeIfDone(task.requestId, 'engine', { known: counts }, tx)
      })
      return
    }
    const counts = await tasks.finish(task, options.worker, next, event, lastItems)
    if (!counts) return // the lease was lost: another worker owns the task now
    if (OPEN_TASK_STATUSES.some((s) => (counts.get(s) ?? 0) > 0)) return
    // Someone holds the request's lock: most often the worker that finished its other last task,
    // closing it. The request is looked at again later (onCloseBusy).
    if (await finalizer.closeIfDone(task.requestId, 'engine', { ifFree: true }) === 'busy') deps.onCloseBusy?.(task.requestId)
  }
}

/**
 * The purposes an opt_out task asks the connector to stop: the request's, as stored (known ones only,
 * in the catalogue's order); marketing when a request names none (an opt-out always stops marketing).
 */
export function optOutPurposesOf (stored: readonly string[]): OptOutPurposeName[] {
  const known = OPT_OUT_PURPOSE_NAMES.filter((p) => stored.includes(p))
  return known.length > 0 ? known : ['marketing']
}

/** Anything a connector throws, as a coded error. Unknown errors may be transient, so they retry. */
function asConnectorError (err: unknown): ConnectorError {
  if (err instanceof ConnectorError) return err
  return new ConnectorError(ConnectorErrorCodes.Internal, `unexpected ${(err as Error)?.name ?? 'error'} in connector`, { retryable: true, cause: err })
}
