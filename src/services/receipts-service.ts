import { JWKS_PATH, receiptFor, type ReceiptDeps } from '../receipts/receipt.js'

/** Signed erasure receipts: issued once per closing of an erasure request, then returned as stored. */
export function createReceiptsService (deps: ReceiptDeps) {
  return {
    async forRequest (requestId: string) {
      return { ...await receiptFor(deps, requestId), jwks_uri: JWKS_PATH }
    }
  }
}

export type ReceiptsService = ReturnType<typeof createReceiptsService>
