import { Type, type Static } from 'typebox'
import { Nullable } from './common.js'

/** Backup restores and the re-erasures they start. Inline schemas (no $id), as in receipts.ts. */

const dateTime = Type.String({ format: 'date-time' })

export const CreateRestoreSchema = Type.Object({
  connector: Type.String({ pattern: '^[a-z][a-z0-9_]{0,39}$', description: 'The connector whose system was restored' }),
  backup_taken_at: Type.String({ format: 'date-time', description: 'When the backup that was restored was taken' }),
  note: Type.Optional(Type.String({ minLength: 1, maxLength: 2000, description: 'Free text for the record (a ticket number, say); never logged' }))
}, { additionalProperties: false })

export type CreateRestore = Static<typeof CreateRestoreSchema>

export const RestoreParamsSchema = Type.Object({
  id: Type.String({ format: 'uuid', description: 'Restore id' })
}, { additionalProperties: false })

export const RestoreSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  connector: Type.String(),
  backup_taken_at: dateTime,
  note: Nullable(Type.String()),
  created_by: Type.String(),
  created_at: dateTime,
  status: Type.Enum(['in_progress', 'completed', 'completed_with_failures'], {
    description: 'completed once every re-erasure closed (at once when there was nobody to erase again); ' +
      'completed_with_failures when one of them did not complete'
  }),
  count: Type.Integer({ minimum: 0, description: 'People erased again: one erasure request each' }),
  tombstones: Type.Object({
    matched: Type.Integer({ minimum: 0, description: 'Live tombstones erased at or after backup_taken_at: their people are in the restored data' }),
    expired: Type.Integer({
      minimum: 0,
      description: 'Tombstones erased at or after backup_taken_at that had already expired: the backup outlived the retention ' +
        'it was meant to have and should not exist; nobody can be erased again for these'
    }),
    unreadable: Type.Integer({ minimum: 0, description: 'Live tombstones whose identifiers could not be opened (sealed under a key no longer configured)' })
  }, { additionalProperties: false }),
  re_erasures: Type.Object({
    open: Type.Integer({ minimum: 0 }),
    completed: Type.Integer({ minimum: 0 }),
    partially_completed: Type.Integer({ minimum: 0 }),
    failed: Type.Integer({ minimum: 0 }),
    cancelled: Type.Integer({ minimum: 0, description: 'Cancelled or rejected' })
  }, { additionalProperties: false }),
  requests: Type.Array(Type.Object({
    id: Type.String({ format: 'uuid', description: 'The erasure request made for this restore' }),
    original_request_id: Type.String({ format: 'uuid', description: 'The erasure whose tombstone it re-applies' }),
    status: Type.String()
  }, { additionalProperties: false }))
}, { additionalProperties: false })

export type Restore = Static<typeof RestoreSchema>
