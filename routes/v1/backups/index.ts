import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { authErrorResponses, IdempotentReplayedHeader, json, problem } from '../../../src/schemas/common.js'
import { CreateRestoreSchema, RestoreParamsSchema, RestoreSchema } from '../../../src/schemas/backups.js'

/** Backup restores: erase again everyone a restored backup brought back. */
const backups: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.post('/restores', {
    config: { scope: 'admin' },
    schema: {
      tags: ['backups'],
      operationId: 'recordBackupRestore',
      summary: 'Record that a system was restored from a backup, and erase again everyone the backup brought back',
      description: 'Say which connector\'s system was restored and when the backup was taken. Everyone erased from that ' +
        'system at or after `backup_taken_at` is in the restored data again: each live backup tombstone of the connector ' +
        'from then on gets an erasure request of its own, for that system only, linked to the original request ' +
        '(`erased_again_after_restore` in its audit trail) and run by the engine like any erasure. Answers 202 with the ' +
        'restore; `GET /v1/backups/restores/{id}` follows it to the end.\n\n' +
        'Tombstones end when the backups they protect against are gone (`kept_until`, from `BACKUP_RETENTION_DAYS` or the ' +
        'connector\'s `backup_retention_days`): `tombstones.expired` counts those this backup would have needed. Any at all ' +
        'means the backup is older than the retention promised for it and should not exist.\n\n' +
        'The same connector and `backup_taken_at` again is the same restore: 200 with it as it stands and ' +
        '`Idempotent-Replayed: true`; nobody is erased twice for one restore. `note` is kept with the restore, never logged.\n\n' +
        '422 `DSR_RESTORE_CONNECTOR_INVALID`: no such connector, or it cannot erase.',
      body: CreateRestoreSchema,
      response: {
        200: json(RestoreSchema, { description: 'The same restore again: as it stands, nothing written', headers: { 'Idempotent-Replayed': IdempotentReplayedHeader } }),
        202: json(RestoreSchema, { description: 'Accepted: the restore, carried out by the workers', headers: { 'Idempotent-Replayed': IdempotentReplayedHeader } }),
        ...authErrorResponses,
        413: problem(),
        415: problem(),
        422: problem()
      }
    }
  }, async (request, reply) => {
    const { restore, replayed } = await fastify.restoresService.create(request.body, request.principal!)
    if (replayed) reply.header('idempotent-replayed', 'true')
    return reply.status(replayed ? 200 : 202).send(restore)
  })

  fastify.get('/restores/:id', {
    config: { scope: 'admin' },
    schema: {
      tags: ['backups'],
      operationId: 'getBackupRestore',
      summary: 'A backup restore and how far its re-erasures are',
      description: 'A backup restore: the tombstones it was checked against and how far the erasures it started again have come.',
      params: RestoreParamsSchema,
      response: { 200: RestoreSchema, ...authErrorResponses, 404: problem() }
    }
  }, async (request) => fastify.restoresService.get(request.params.id))
}

export default backups
