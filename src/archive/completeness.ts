import type { ManifestSystem } from './manifest.js'
import { ConnectorErrorCodes } from '../../connectors/types.js'
import { JobErrors } from '../errors.js'

/** What the archive job knows of a collect task. */
export interface CollectTaskState {
  connectorId: string
  status: string
  lastErrorCode: string | null
  skipReason: string | null
  /** A manual task's result holds the person's outcome: what they found is not in the archive. */
  result?: { manual?: unknown } | null
}

/** Why a system searched by hand is not in the archive: the person's note may hold anything, so it is not quoted. */
export const SEARCHED_BY_HAND = 'searched by a person, not by this service: what was found is sent separately'

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
export const UNFINISHED_CODE = JobErrors.TaskUnfinished.code

/**
 * Each system the request was to search, from its collect tasks: collected when the task
 * succeeded, skipped when staff skipped it or a person searched it by hand (nothing of it is in the
 * archive), failed otherwise, with the task's last error code.
 */
export function systemsOf (tasks: readonly CollectTaskState[]): ManifestSystem[] {
  return tasks.map((t): ManifestSystem => {
    if (t.status === 'succeeded' && t.result?.manual) return { connector: t.connectorId, status: 'skipped', skip_reason: SEARCHED_BY_HAND }
    if (t.status === 'succeeded') return { connector: t.connectorId, status: 'collected' }
    if (t.status === 'skipped') return { connector: t.connectorId, status: 'skipped', ...(t.skipReason ? { skip_reason: oneLine(t.skipReason) } : {}) }
    return { connector: t.connectorId, status: 'failed', error_code: t.status === 'failed' ? (t.lastErrorCode ?? JobErrors.TaskFailed.code) : UNFINISHED_CODE }
  }).sort((a, b) => a.connector < b.connector ? -1 : a.connector > b.connector ? 1 : 0)
}

const REASONS: Record<string, string> = {
  [ConnectorErrorCodes.Auth]: 'the system refused our access (its credentials were not accepted)',
  [ConnectorErrorCodes.Config]: 'our connection to the system is not set up correctly',
  [ConnectorErrorCodes.Unavailable]: 'the system was unavailable',
  [ConnectorErrorCodes.RateLimited]: 'the system kept turning our searches away as too many',
  [ConnectorErrorCodes.Timeout]: 'the system did not answer in time',
  [ConnectorErrorCodes.Network]: 'the system could not be reached',
  [ConnectorErrorCodes.BadRequest]: 'the system rejected the search',
  [JobErrors.ConnectorUnsupported.code]: 'the system cannot be searched this way',
  [JobErrors.ConnectorContract.code]: 'the system answered in a way we could not use',
  [JobErrors.ConnectorNotConfigured.code]: 'the system is no longer connected to this service',
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
