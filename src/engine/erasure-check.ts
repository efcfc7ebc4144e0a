import type { ConnectorInstance } from '../connectors/registry.js'
import type { ErasureVerification, TaskResult } from '../db/schema.js'
import { ConnectorError, ConnectorErrorCodes, type ConnectorContext } from '../../connectors/types.js'
import { JobErrors } from '../errors.js'

/**
 * The check after an erasure: the system that just erased the person is searched again with the
 * same identifiers (its `collect`), and what it still finds is counted per stream, never stored,
 * logged or copied. Records in a stream the erasure said it retained (with its reason) or deferred
 * (the system erases later, under its reference) are expected; anything else is residue.
 *
 * Eventual consistency: a system's search can show a record for a short while after it was erased
 * (HubSpot's and Zendesk's search indexes lag writes by seconds). Each driver declares how long
 * (`erasureCheck.settleMs`); a search that finds residue is repeated after that wait, up to
 * `attempts` searches in all (ERASURE_CHECK_ATTEMPTS), inside the task's timeout. Only residue the
 * last search still finds fails the task (DSR_ERASURE_RESIDUE, not retried: a retry would erase
 * again and report nothing, hiding what the first erasure left). A system whose search answers at
 * once (a database, a direct read) declares 0 and is searched again at once.
 */

/** The erasure left records it did not account for; the task's result (counts only) goes with it. */
export class ErasureResidueError extends ConnectorError {
  readonly result: TaskResult

  constructor (result: TaskResult & { verification: ErasureVerification }) {
    const found = Object.entries(result.verification.residue ?? {}).map(([stream, n]) => `${stream} (${n})`).join(', ')
    super(JobErrors.ErasureResidue.code, `a search after the erasure still finds records in ${found}`, { retryable: false })
    this.result = result
  }
}

export interface ErasureCheckOptions {
  /** Searches at most (ERASURE_CHECK_ATTEMPTS); the wait between two is the connector's settleMs. */
  attempts: number
  /** Waits `ms` or until `signal` aborts (tests pass a faster clock). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>
}

type Outcomes = NonNullable<TaskResult['outcomes']>

/**
 * Searches `instance` again after its erasure returned `outcomes`. Answers the verification to
 * record with the task; throws ErasureResidueError when the last search still finds residue.
 */
export async function checkErasure (instance: ConnectorInstance, ctx: ConnectorContext, outcomes: Outcomes, opts: ErasureCheckOptions): Promise<ErasureVerification> {
  const declared = instance.erasureCheck
  if (!declared.searchable || typeof instance.connector.collect !== 'function') {
    return { status: 'not_verifiable', checked_at: null, checks: 0, reason: declared.searchable ? 'the connector cannot search the system' : declared.reason }
  }
  const retained = new Set(outcomes.filter((o) => o.status === 'retained').map((o) => o.stream))
  const deferred = new Set(outcomes.filter((o) => o.status === 'deferred').map((o) => o.stream))
  const sleep = opts.sleep ?? wait
  let checks = 0
  for (;;) {
    checks++
    const found = await countFound(instance, ctx)
    const residue: Record<string, number> = {}
    const kept: Record<string, number> = {}
    for (const [stream, n] of Object.entries(found)) {
      if (retained.has(stream) || deferred.has(stream)) kept[stream] = n
      else residue[stream] = n
    }
    const verification: ErasureVerification = {
      status: Object.keys(residue).length === 0 ? 'verified' : 'residue',
      checked_at: new Date().toISOString(),
      checks,
      ...(Object.keys(kept).length > 0 ? { retained: kept } : {}),
      ...(deferred.size > 0 ? { deferred: [...deferred].sort() } : {}),
      ...(Object.keys(residue).length > 0 ? { residue } : {})
    }
    if (verification.status === 'verified') return verification
    if (checks >= opts.attempts) throw new ErasureResidueError({ outcomes, verification })
    ctx.log.info({ checks, streams: Object.keys(residue) }, 'search after erasure still finds records: waiting for the system to settle')
    await sleep(declared.settleMs, ctx.signal)
  }
}

/** Records found per stream; file items are counted, never opened. */
async function countFound (instance: ConnectorInstance, ctx: ConnectorContext): Promise<Record<string, number>> {
  const found: Record<string, number> = {}
  for await (const item of instance.connector.collect!(ctx)) found[item.stream] = (found[item.stream] ?? 0) + 1
  return found
}

function wait (ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new ConnectorError(ConnectorErrorCodes.Timeout, 'aborted while waiting to search again', { retryable: true }))
    const timer = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve() }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      reject(new ConnectorError(ConnectorErrorCodes.Timeout, 'aborted while waiting to search again', { retryable: true }))
    }
    signal.addEventListener('abort', onAbort, { once: true })
  })
}
