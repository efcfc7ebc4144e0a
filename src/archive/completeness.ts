import type { ManifestSystem } from './manifest.js'

/** What the archive job knows of a collect task. */
export interface CollectTaskState {
  connectorId: string
  status: string
  lastErrorCode: string | null
  skipReason: string | null
}

/** A system that was not searched, as README.txt and index.html name it for the person. */
export interface MissingSystem {
  id: string
  displayName: string
  status: 'failed' | 'skipped'
  /** The coded reason: the error code of a failed system; null for a skipped one. */
  code: string | null
  /** One plain sentence, without personal data. */
  reason: string
}

/** A task the archive was built without although it had not finished (reopened by a retry meanwhile). */
export const UNFINISHED_CODE = 'DSR_TASK_UNFINISHED'

/**
 * Each system the request was to search, from its collect tasks: collected when the task
 * succeeded, skipped when staff skipped it, failed otherwise, with the task's last error code.
 */
export function systemsOf (tasks: readonly CollectTaskState[]): ManifestSystem[] {
  return tasks.map((t): ManifestSystem => {
    if (t.status === 'succeeded') return { connector: t.connectorId, status: 'collected' }
    if (t.status === 'skipped') return { connector: t.connectorId, status: 'skipped', ...(t.skipReason ? { skip_reason: oneLine(t.skipReason) } : {}) }
    return { connector: t.connectorId, status: 'failed', error_code: t.status === 'failed' ? (t.lastErrorCode ?? 'DSR_INTERNAL') : UNFINISHED_CODE }
  }).sort((a, b) => a.connector < b.connector ? -1 : a.connector > b.connector ? 1 : 0)
}

const REASONS: Record<string, string> = {
  DSR_CONNECTOR_AUTH: 'the system refused our access (its credentials were not accepted)',
  DSR_CONNECTOR_CONFIG: 'our connection to the system is not set up correctly',
  DSR_CONNECTOR_UNAVAILABLE: 'the system was unavailable',
  DSR_CONNECTOR_RATE_LIMITED: 'the system kept turning our searches away as too many',
  DSR_CONNECTOR_TIMEOUT: 'the system did not answer in time',
  DSR_CONNECTOR_NETWORK: 'the system could not be reached',
  DSR_CONNECTOR_BAD_REQUEST: 'the system rejected the search',
  DSR_CONNECTOR_UNSUPPORTED: 'the system cannot be searched this way',
  DSR_CONNECTOR_CONTRACT: 'the system answered in a way we could not use',
  DSR_CONNECTOR_NOT_CONFIGURED: 'the system is no longer connected to this service',
  [UNFINISHED_CODE]: 'the search had not finished when this archive was made'
}

/** The systems that were not searched, each with a plain reason. */
export function missingSystems (systems: readonly ManifestSystem[], displayName: (id: string) => string): MissingSystem[] {
  return systems.filter((s) => s.status !== 'collected').map((s) => s.status === 'skipped'
    ? { id: s.connector, displayName: displayName(s.connector), status: 'skipped' as const, code: null, reason: s.skip_reason ? `not searched: ${s.skip_reason}` : 'not searched' }
    : {
        id: s.connector,
        displayName: displayName(s.connector),
        status: 'failed' as const,
        code: s.error_code ?? null,
        reason: REASONS[s.error_code ?? ''] ?? 'an error stopped the search'
      })
}

/** Staff-written text as one short line: no control characters, at most 200 characters. */
function oneLine (text: string): string {
  const line = text.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]+/gu, ' ').replace(/\s+/g, ' ').trim()
  return line.length > 200 ? `${line.slice(0, 199)}…` : line
}
