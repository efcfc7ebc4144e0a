import { REGIMES, type Regime } from './deadlines.js'
import { REQUEST_TYPES, type RequestType } from './requests.js'

/**
 * Which requests wait for a person's approval before any system is touched, once their identity is
 * verified: APPROVAL_REQUIRED lists `type`, `type:regime` or `*:regime` entries, comma-separated
 * (e.g. `erasure,access:ccpa`). Everything else is fulfilled automatically.
 */
export interface ApprovalPolicy {
  requires (type: RequestType, regime: Regime): boolean
}

/** Reads APPROVAL_REQUIRED; the problems, each naming the entry, when it does not read. */
export function parseApprovalPolicy (value: string | undefined): { policy: ApprovalPolicy, problems: string[] } {
  const rules: Array<{ type: RequestType | '*', regime: Regime | null }> = []
  const problems: string[] = []
  for (const entry of (value ?? '').split(',').map((e) => e.trim()).filter((e) => e !== '')) {
    const [type, regime, extra] = entry.split(':')
    if (extra !== undefined || (type !== '*' && !REQUEST_TYPES.includes(type as RequestType)) || (type === '*' && regime === undefined)) {
      problems.push(`"${entry}" is not a request type, type:regime or *:regime (types: ${REQUEST_TYPES.join(', ')})`)
    } else if (regime !== undefined && !REGIMES.includes(regime as Regime)) {
      problems.push(`"${entry}": unknown regime "${regime}" (regimes: ${REGIMES.join(', ')})`)
    } else {
      rules.push({ type: type as RequestType | '*', regime: (regime as Regime | undefined) ?? null })
    }
  }
  return {
    policy: { requires: (type, regime) => rules.some((r) => (r.type === '*' || r.type === type) && (r.regime === null || r.regime === regime)) },
    problems
  }
}
