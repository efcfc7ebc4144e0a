/**
 * The channel `pg_notify` wakes idle workers on; the payload is the queue's name. Defined here, below
 * the jobs layer, because some statements of the database layer wake workers themselves when they
 * commit (the status callbacks' outbox); src/jobs/queue.ts re-exports both names.
 */
export const WAKE_CHANNEL = 'dsr_jobs'

/** The status callbacks' queue: the outbox table callback_deliveries, drained by the engine. */
export const CALLBACK_QUEUE = 'dsr_callbacks'

/** The OpenDSR status callbacks' queue: the outbox table opendsr_callbacks, drained by the engine. */
export const OPENDSR_CALLBACK_QUEUE = 'dsr_opendsr_callbacks'
