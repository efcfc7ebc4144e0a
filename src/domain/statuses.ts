/**
 * The states of the work a request fans out into: its tasks, its archive and its direct transfers.
 * The database schema makes its enums of them; the engine, the services and the API schemas read
 * them from here.
 */
export const TASK_STATUSES = ['pending', 'running', 'retry_wait', 'waiting', 'succeeded', 'failed', 'skipped'] as const
export type TaskStatus = typeof TASK_STATUSES[number]
export const TERMINAL_TASK_STATUSES: readonly TaskStatus[] = ['succeeded', 'failed', 'skipped']
export const OPEN_TASK_STATUSES: readonly TaskStatus[] = ['pending', 'running', 'retry_wait', 'waiting']

export const ARCHIVE_STATUSES = ['building', 'ready', 'failed', 'expired'] as const
export type ArchiveStatus = typeof ARCHIVE_STATUSES[number]

export const TRANSFER_STATUSES = ['pending', 'sending', 'retry_wait', 'delivered', 'failed'] as const
export type TransferStatus = typeof TRANSFER_STATUSES[number]

/** A status callback's delivery: due (pending), being sent, delivered, or out of attempts (failed). */
export const CALLBACK_STATUSES = ['pending', 'sending', 'delivered', 'failed'] as const
export type CallbackStatus = typeof CALLBACK_STATUSES[number]
