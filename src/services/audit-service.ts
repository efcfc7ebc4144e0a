import { verifyAuditChain, verifyRequestChain, type VerifyDeps } from '../audit/verify.js'

/** The tamper-evident audit trail's verification (src/audit/), for the whole service or one request. */
export function createAuditService (deps: VerifyDeps) {
  return {
    verify: () => verifyAuditChain(deps),
    verifyRequest: (requestId: string) => verifyRequestChain(deps, requestId)
  }
}

export type AuditService = ReturnType<typeof createAuditService>
