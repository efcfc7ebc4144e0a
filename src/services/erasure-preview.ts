import type { FastifyBaseLogger } from 'fastify'
import type { ConnectorInstance, ConnectorRegistry } from '../connectors/registry.js'
import type { DbHandle } from '../db/client.js'
import { createRequestsRepository } from '../db/repositories/requests-repository.js'
import { canDo } from '../engine/planner.js'
import { holdPlan, type HoldLookup } from '../engine/holds.js'
import { Errors } from '../errors.js'
import type { ErasurePreviewReport } from '../schemas/receipts.js'
import { ConnectorError, ConnectorErrorCodes, type ConnectorContext, type ErasePreview, type SubjectIdentity } from '../../connectors/types.js'

/** Before fulfilment starts: once tasks run, the systems are changing and a preview would say nothing. */
export const PREVIEWABLE = ['received', 'verifying', 'ready', 'awaiting_approval', 'on_hold'] as const

type ConnectorPreview = ErasurePreviewReport['connectors'][number]

/**
 * The dry run of an erasure request: per system and stream, how many records its erasure would
 * erase, mask or retain (with the reasons), and nothing changed. A connector with `previewErase`
 * (the Postgres connector: its erase statements in a transaction rolled back) answers itself; one
 * without it is collected and its streams' erasure policy (`onErase`) applied to the counts. The same
 * systems as the erasure would reach (those able to erase); a system a person erases in is listed as
 * not previewable. Recorded in the request's audit trail (erasure_previewed) with the totals only.
 */
export function createErasurePreviewService (deps: { dbh: DbHandle, registry: ConnectorRegistry, log: FastifyBaseLogger, holds?: HoldLookup }) {
  const requests = createRequestsRepository(deps.dbh)

  return {
    async preview (requestId: string, actor: string): Promise<ErasurePreviewReport> {
      const request = await requests.findById(requestId)
      if (!request) throw new Errors.RequestNotFound(requestId)
      if (request.type !== 'erasure') throw new Errors.ErasurePreviewNotAvailable(`a ${request.type} request erases nothing`)
      if (!(PREVIEWABLE as readonly string[]).includes(request.status)) {
        throw new Errors.ErasurePreviewNotAvailable(`the request is ${request.status}: a preview is made before fulfilment starts`)
      }
      if (request.identifiersRedactedAt !== null) throw new Errors.ErasurePreviewNotAvailable("the request's identifiers were removed")
      const connectors: ConnectorPreview[] = []
      const subject = request.subject as SubjectIdentity
      // Legal holds on the person: what they cover is shown retained, with the hold's ground and reference.
      const holds = deps.holds ? await deps.holds(subject) : []
      for (const instance of deps.registry.values()) {
        connectors.push(await previewOne(instance, { requestId, subject, log: deps.log.child({ connector: instance.id, requestId }) }, holdPlan(instance, holds)))
      }
      const report: ErasurePreviewReport = { request_id: requestId, dry_run: true, generated_at: new Date().toISOString(), connectors }
      await requests.recordEvent(requestId, actor, 'erasure_previewed', null, {
        connectors: Object.fromEntries(connectors.map((c) => [c.connector, { status: c.status, ...c.totals }]))
      })
      return report
    }
  }
}

export type ErasurePreviewService = ReturnType<typeof createErasurePreviewService>

async function previewOne (instance: ConnectorInstance, base: { requestId: string, subject: SubjectIdentity, log: FastifyBaseLogger }, held: ReturnType<typeof holdPlan>): Promise<ConnectorPreview> {
  const entry = { connector: instance.id, name: instance.displayName }
  const none = { erase: 0, mask: 0, retain: 0 }
  if (!canDo(instance, 'erase')) {
    return { ...entry, status: 'not_previewable', method: 'none', streams: [], totals: none, error_code: null, reason: 'no connector erases in this system: a person does, by its instructions' }
  }
  const c = instance.connector
  const ctx: ConnectorContext = { ...base, signal: AbortSignal.timeout(instance.timeoutMs), ...(held.retain.length > 0 && !held.whole ? { retain: held.retain } : {}) }
  try {
    const [method, streams] = c.previewErase && !held.whole
      ? ['rolled_back' as const, await c.previewErase(ctx)]
      : ['collected' as const, await fromCollect(instance, ctx, held.whole ? held.retain : [])]
    const totals = streams.reduce((t, s) => ({ erase: t.erase + s.erase, mask: t.mask + s.mask, retain: t.retain + s.retain }), none)
    return { ...entry, status: 'previewed', method, streams, totals, error_code: null, reason: null }
  } catch (err) {
    const code = err instanceof ConnectorError ? err.code : ConnectorErrorCodes.Internal
    base.log.warn({ code }, 'erasure preview failed')
    return { ...entry, status: 'failed', method: c.previewErase ? 'rolled_back' : 'collected', streams: [], totals: none, error_code: code, reason: null }
  }
}

/** Counts what `collect` finds per stream, and applies each stream's erasure policy: erased, unless it says retained. */
async function fromCollect (instance: ConnectorInstance, ctx: ConnectorContext, heldStreams: ReturnType<typeof holdPlan>['retain']): Promise<ErasePreview[]> {
  if (typeof instance.connector.collect !== 'function') {
    throw new ConnectorError(ConnectorErrorCodes.Config, 'the connector can neither preview its erasure nor search the system', { retryable: false })
  }
  const found = new Map<string, number>()
  for await (const item of instance.connector.collect(ctx)) found.set(item.stream, (found.get(item.stream) ?? 0) + 1)
  return instance.streams.map((s) => {
    const n = found.get(s.name) ?? 0
    const held = [...new Set(heldStreams.filter((h) => h.stream === s.name).map((h) => h.reason))]
    if (held.length > 0) return { stream: s.name, erase: 0, mask: 0, retain: n, reasons: n > 0 ? held : [] }
    return s.onErase?.action === 'retain'
      ? { stream: s.name, erase: 0, mask: 0, retain: n, reasons: n > 0 ? [s.onErase.reason] : [] }
      : { stream: s.name, erase: n, mask: 0, retain: 0, reasons: [] }
  })
}
