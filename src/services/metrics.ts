import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { DbHandle } from '../db/client.js'
import { createMetricsRepository } from '../db/repositories/metrics-repository.js'
import type { ConnectorRegistry } from '../connectors/registry.js'
import { latestHealth } from '../engine/circuit.js'
import { taskQueue } from '../jobs/queue.js'

/** What the runner reports about each task attempt. */
export interface TaskMetrics {
  taskAttempt (connector: string, action: string, outcome: 'succeeded' | 'failed' | 'retry' | 'waiting', seconds: number): void
}

/**
 * The service's Prometheus metrics, on a registry of its own (never prom-client's global one, so
 * two apps in one process do not share counters). Gauges read the database at scrape time;
 * task counters and durations are observed by the runner in this process.
 */
export function createMetrics (deps: { dbh: DbHandle, connectors: ConnectorRegistry }) {
  const { dbh } = deps
  const counts = createMetricsRepository(dbh)
  const registry = new Registry()
  // The process's own figures (CPU, memory, heap, event-loop lag, handles, GC), as prom-client names them.
  collectDefaultMetrics({ register: registry })

  const taskDuration = new Histogram({
    name: 'dsr_task_duration_seconds',
    help: 'Duration of task attempts, by connector, action and outcome',
    labelNames: ['connector', 'action', 'outcome'] as const,
    buckets: [0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
    registers: [registry]
  })
  const taskOutcomes = new Counter({
    name: 'dsr_task_attempts_total',
    help: 'Task attempts, by connector, action and outcome (succeeded, failed, retry, waiting)',
    labelNames: ['connector', 'action', 'outcome'] as const,
    registers: [registry]
  })

  registry.registerMetric(new Gauge({
    name: 'dsr_requests',
    registers: [], // registered below, in this app's registry only
    help: 'Requests by type, status and regime',
    labelNames: ['type', 'status', 'regime'] as const,
    async collect () {
      const rows = await counts.requestCounts()
      this.reset()
      for (const r of rows) this.set({ type: r.type, status: r.status, regime: r.regime }, Number(r.n))
    }
  }))
  registry.registerMetric(new Gauge({
    name: 'dsr_requests_overdue',
    registers: [], // registered below, in this app's registry only
    help: 'Open requests past their effective due date (the extended date only where the extension was taken)',
    async collect () {
      this.set(await counts.overdueCount())
    }
  }))
  registry.registerMetric(new Gauge({
    name: 'dsr_connector_up',
    registers: [], // registered below, in this app's registry only
    help: 'Latest stored health check per connector: 1 ok, 0 down (absent until first checked)',
    labelNames: ['connector'] as const,
    async collect () {
      const latest = await latestHealth(dbh)
      this.reset()
      for (const c of deps.connectors.values()) {
        const h = latest.get(c.id)
        if (h) this.set({ connector: c.id }, h.status === 'ok' ? 1 : 0)
      }
    }
  }))
  registry.registerMetric(new Gauge({
    name: 'dsr_queue_jobs',
    registers: [], // registered below, in this app's registry only
    help: 'Work on the queues, by queue and state: open tasks by status (dsr_task_<connector>), pg-boss jobs by state',
    labelNames: ['queue', 'state'] as const,
    async collect () {
      this.reset()
      // Tasks are their own queue (jobs/queue.ts): those not finished, by status.
      const open = await counts.openTaskCounts()
      for (const r of open) this.set({ queue: taskQueue(r.connector_id), state: r.status }, Number(r.n))
      try {
        const rows = await counts.queueJobCounts()
        for (const r of rows) this.set({ queue: r.name, state: r.state }, Number(r.n))
      } catch {
        // pg-boss has not created its schema yet (engine not started): no jobs to report.
      }
    }
  }))

  return {
    registry,
    taskAttempt (connector, action, outcome, seconds) {
      taskOutcomes.inc({ connector, action, outcome })
      taskDuration.observe({ connector, action, outcome }, seconds)
    },
    async render (): Promise<{ contentType: string, body: string }> {
      return { contentType: registry.contentType, body: await registry.metrics() }
    }
  } satisfies TaskMetrics & Record<string, unknown>
}

export type Metrics = ReturnType<typeof createMetrics>
