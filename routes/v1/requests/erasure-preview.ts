import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { authErrorResponses, IdParamsSchema, problem } from '../../../src/schemas/common.js'
import { ErasurePreviewSchema } from '../../../src/schemas/receipts.js'

/** The dry run of an erasure request, for whoever approves it. */
const erasurePreview: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.post('/:id/erasure-preview', {
    config: { scope: 'requests:approve' },
    schema: {
      tags: ['requests'],
      operationId: 'previewErasure',
      summary: 'What the erasure would do, per system and stream: records erased, masked or retained (with the reasons); nothing changes',
      description: 'A dry run (`dry_run: true`, like a retention sweep\'s) of an erasure request before its fulfilment starts ' +
        '(received, verifying, ready, awaiting_approval, on_hold): typically before approving it. A database system runs its erasure in a ' +
        'transaction that is rolled back (`method: rolled_back`; the rows it would change are locked meanwhile); an HTTP system is searched and ' +
        'its erasure policy applied to what it holds (`method: collected`). Counts only, never values; recorded in the audit trail ' +
        '(erasure_previewed, with the totals). A system that fails is reported with its `error_code`, the others still are.\n\n' +
        '409 `DSR_ERASURE_PREVIEW_NOT_AVAILABLE`: not an erasure request, its fulfilment has started or ended, or its identifiers were removed.',
      params: IdParamsSchema,
      response: { 200: ErasurePreviewSchema, ...authErrorResponses, 404: problem(), 409: problem() }
    }
  }, async (request) => fastify.erasurePreviewService.preview(request.params.id, request.principal!.name))
}

export default erasurePreview
