import type { FastifyBaseLogger } from 'fastify'
import type { DbHandle, TxHandle } from '../db/client.js'
import { createConnectorHealthRepository } from '../db/repositories/connector-health-repository.js'
import { createWaitingTasksRepository } from '../db/repositories/waiting-tasks-repository.js'
import { createRequestsRepository } from '../db/repositories/requests-repository.js'
import type { TaskRow } from '../db/repositories/tasks-repository.js'
import type { ConnectorInstance, ConnectorRegistry } from '../connectors/registry.js'
import { ConnectorErrorCodes, type ConnectorError, type HealthResult } from '../../connectors/types.js'
import { queueTasks } from '../jobs/queue.js'
import { JobErrors } from '../errors.js'

/** A stored health check: the latest one per connector is that connector's current health. */
export interface StoredHealth {
  connectorId: string
  status: 'ok' | 'down'
  latencyMs: number | null
  message: string | null
  checkedAt: Date
}

/** The code a task waiting on a down connector carries in last_error_code. */
export const WAITING_CODE = JobErrors.ConnectorDown.code
/** How long one health check may take, whatever the connector does with its signal. */
export const HEALTH_TIMEOUT_MS = 10_000
/** A connector is due when its period has elapsed, less this slack (ticks land on minute boundaries). */
const DUE_SLACK_MS = 30_000

/** The latest stored check of every connector that has one. */
export async function latestHealth (db: TxHandle): Promise<Map<string, StoredHealth>> {
  const rows = await createConnectorHealthRepository(db).latest()
  return new Map(rows.map((r) => [r.connector_id, {
    connectorId: r.connector_id,
    status: r.status === 'ok' ? 'ok' : 'down',
    latencyMs: r.latency_ms === null ? null : Number(r.latency_ms),
    message: r.message,
    checkedAt: new Date(r.checked_at)
  }]))
}

/** Runs one connector's health check, bounded in time; a throw or a timeout counts as down. */
export async function probe (instance: ConnectorInstance, timeoutMs = HEALTH_TIMEOUT_MS): Promise<HealthResult> {
  const signal = AbortSignal.timeout(timeoutMs)
  const started = performance.now()
  try {
    const result = await Promise.race([
      instance.connector.health({ signal }),
      new Promise<never>((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error('health check timed out')), { once: true }))
    ])
    return result.status === 'ok' ? { status: 'ok', latencyMs: result.latencyMs ?? Math.round(performance.now() - started) } : result
  } catch (err) {
    return { status: 'down', message: signal.aborted ? 'health check timed out' : `health check threw ${(err as Error)?.name ?? 'error'}`, retryable: true }
  }
}

/**
 * Failures that may mean the system is down: connection errors and 5xx answers. Not timeouts (the
 * runner also raises those for its own time limit and for a lost lease), rate limits or bad config.
 */
export function mayBeDown (e: ConnectorError): boolean {
  return e.retryable && ([ConnectorErrorCodes.Unavailable, ConnectorErrorCodes.Network] as string[]).includes(e.code)
}

/**
 * The circuit breaker. Health checks are stored as history in connector_health; a connector whose
 * latest check says down has its tasks parked as `waiting` (the attempt that found it down is not
 * counted) instead of burning retries, and the first ok check afterwards puts them back on the queue.
 */
export function createCircuit (deps: { dbh: DbHandle, registry: ConnectorRegistry, log: FastifyBaseLogger }) {
  const { dbh, registry, log } = deps
  const health = createConnectorHealthRepository(dbh)
  const waiting = createWaitingTasksRepository(dbh)
  const requests = createRequestsRepository(dbh)

  /** Stores a check; when it is ok, resumes the connector's waiting tasks. */
  async function store (connectorId: string, result: HealthResult, checkedAt = new Date()): Promise<StoredHealth & { resumed: number }> {
    const row = {
      connectorId,
      status: result.status,
      latencyMs: result.status === 'ok' ? result.latencyMs : null,
      message: result.status === 'down' ? result.message.slice(0, 500) : null,
      checkedAt
    }
    await health.recordHealth(row)
    const resumed = result.status === 'ok' ? await resume(connectorId) : 0
    if (result.status === 'down') log.warn({ connector: connectorId }, 'connector health check: down')
    return { ...row, resumed }
  }

  /** Waiting tasks of the connector become pending again, atomically, and its idle workers are woken. */
  async function resume (connectorId: string): Promise<number> {
    const resumed = await dbh.transaction(async (tx) => {
      const rows = await waiting.resumeTasks(connectorId, tx)
      await queueTasks(rows, tx)
      for (const task of rows) {
        await requests.recordEvent(task.requestId, 'engine', 'task_resumed', `connector ${connectorId} is healthy again`, { task_id: task.id, connector: connectorId }, tx)
      }
      return rows.length
    })
    if (resumed > 0) log.info({ connector: connectorId, resumed }, 'connector recovered: waiting tasks resumed')
    return resumed
  }

  /** True when the latest stored check of the connector says down. */
  async function isDown (connectorId: string): Promise<boolean> {
    return (await health.latestStatus(connectorId)) === 'down'
  }

  return {
    latest: () => latestHealth(dbh),

    isDown,

    /** Checks a connector now and stores the result (GET …/health?live=true, and the runner's confirmation). */
    async check (connectorId: string): Promise<StoredHealth & { resumed: number }> {
      const instance = registry.get(connectorId)
      if (!instance) throw new Error(`unknown connector ${connectorId}`)
      return store(connectorId, await probe(instance))
    },

    /**
     * The scheduled health job: checks every connector whose own period (`health_check_seconds`)
     * has elapsed since its last stored check, as of `now`. Counts only.
     */
    async runDue (now: Date): Promise<{ checked: number, ok: number, down: number, resumed: number }> {
      const latest = await latestHealth(dbh)
      const due = [...registry.values()].filter((c) => {
        const last = latest.get(c.id)
        return !last || now.getTime() - last.checkedAt.getTime() >= c.healthCheckSeconds * 1000 - DUE_SLACK_MS
      })
      const results = await Promise.all(due.map(async (c) => store(c.id, await probe(c))))
      return {
        checked: results.length,
        ok: results.filter((r) => r.status === 'ok').length,
        down: results.filter((r) => r.status === 'down').length,
        resumed: results.reduce((n, r) => n + r.resumed, 0)
      }
    },

    /**
     * Parks a running task as waiting on its (down) connector, if `worker` still holds it. The
     * attempt is given back: `attempts` is what claim made it, less one. The run record says why.
     */
    async park (task: TaskRow, worker: string, reason: string): Promise<boolean> {
      return dbh.transaction(async (tx) => {
        if (!await waiting.parkTask(task.id, worker, WAITING_CODE, reason, tx)) return false
        await requests.recordEvent(task.requestId, 'engine', 'task_waiting', reason, { task_id: task.id, connector: task.connectorId, action: task.action }, tx)
        return true
      }).then(async (parked) => {
        // A check that came back ok while we were parking has already run its resume: resume now.
        if (parked && !await isDown(task.connectorId)) await resume(task.connectorId)
        return parked
      })
    },

    resume
  }
}

export type Circuit = ReturnType<typeof createCircuit>
