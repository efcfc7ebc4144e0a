/**
 * The states of the work a request fans out into: its tasks, its archive and its direct transfers.
 * The database schema makes its enums of them; the engine, the services and the API schemas read
 * them from here.
 */
/**
 * A task is automatic (a connector does it: pending → running → succeeded, with retry_wait and
 * waiting on the way) or `manual`: a person does it, by the instructions the connector file gives,
 * and records the outcome through the API. The engine never claims a manual task.
 */
export const TASK_STATUSES = ['pending', 'running', 'retry_wait', 'waiting', 'manual', 'succeeded', 'failed', 'skipped'] as const
export type TaskStatus = typeof TASK_STATUSES[number]
export const TERMINAL_TASK_STATUSES: readonly TaskStatus[] = ['succeeded', 'failed', 'skipped']
export const OPEN_TASK_STATUSES: readonly TaskStatus[] = ['pending', 'running', 'retry_wait', 'waiting', 'manual']

export const ARCHIVE_STATUSES = ['building', 'ready', 'failed', 'expired'] as const
export type ArchiveStatus = typeof ARCHIVE_STATUSES[number]

export const TRANSFER_STATUSES = ['pending', 'sending', 'retry_wait', 'delivered', 'failed'] as const
export type TransferStatus = typeof TRANSFER_STATUSES[number]

/** A status callback's delivery: due (pending), being sent, delivered, or out of attempts (failed). */
export const CALLBACK_STATUSES = ['pending', 'sending', 'delivered', 'failed'] as const
export type CallbackStatus = typeof CALLBACK_STATUSES[number]
