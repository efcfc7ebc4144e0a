import fp from 'fastify-plugin'
import { createScheduler, type Scheduler } from '../../engine/scheduler.js'
import { scheduledJobs } from '../../engine/jobs.js'

declare module 'fastify' {
  interface FastifyInstance {
    scheduler: Scheduler
  }
}

/** The scheduled jobs (pg-boss cron), run by worker processes once the engine has started. */
export default fp<{ startEngine: boolean }>(async function scheduler (fastify, opts) {
  const { config, dbh, engine } = fastify
  const scheduler = createScheduler({
    dbh,
    boss: engine.boss,
    work: engine.work,
    instance: engine.worker,
    log: fastify.log.child({ component: 'scheduler' }),
    jobs: scheduledJobs({
      config,
      dbh,
      registry: fastify.connectors,
      circuit: engine.circuit,
      sweepExpiredArchives: engine.sweepExpiredArchives,
      keyring: fastify.keyring,
      log: fastify.log,
      // The verification service is registered after the scheduler (it needs the request services);
      // jobs run only once the app is ready, when it is there.
      rejectUnverified: async (now) => ({ ...await fastify.verificationService.rejectUnverified(now) }),
      tellUntold: (now) => engine.routing.tellUntold(now)
    })
  })
  fastify.decorate('scheduler', scheduler)
  if (opts.startEngine && config.ROLE !== 'api' && config.SCHEDULER_ENABLED) {
    // After the engine's own onReady hook (registered first), so the queue is up.
    fastify.addHook('onReady', async () => scheduler.start())
  }
}, { name: 'scheduler', dependencies: ['core', 'engine'] })
