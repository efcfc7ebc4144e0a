import { fileURLToPath } from 'node:url'
import { verifyAuditChain, verifyRequestChain, type AuditReport } from '../audit/verify.js'
import type { Config } from '../config.js'
import { redactSecrets } from '../config-secrets.js'
import type { DbHandle } from '../db/client.js'
import { createKeyring } from '../receipts/keys.js'
import { loadConfigOrExit, openCliDb } from './common.js'

/**
 * `npm run audit:verify [-- --request <id>] [-- --json]`: verifies the audit trail of DATABASE_URL
 * (or the embedded database), as GET /v1/audit/verify does, and prints the first broken link.
 * Exits 0 when the trail is intact, 1 when something is broken, 2 on bad arguments or when the
 * database cannot be read, 78 on bad configuration.
 */

export interface AuditVerifyArgs { requestId?: string, json: boolean }

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** The command line's arguments, or an error message. */
export function parseArgs (argv: readonly string[]): AuditVerifyArgs | string {
  const args: AuditVerifyArgs = { json: false }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--json') args.json = true
    else if (arg === '--request') {
      const id = argv[++i]
      if (id === undefined || !UUID.test(id)) return '--request needs a request id (a uuid)'
      args.requestId = id.toLowerCase()
    } else return `unknown argument ${arg} (use --request <id>, --json)`
  }
  return args
}

/** The report as lines for a person. */
export function describe (report: AuditReport): string {
  const scope = report.request_id ? `request ${report.request_id}` : 'the service'
  const lines = [`audit trail of ${scope}: ${report.ok ? 'intact' : 'BROKEN'}`,
    `  links checked: ${report.links_checked}, events not sealed yet: ${report.unsealed_events}`]
  if (report.head) lines.push(`  head: position ${report.head.position}, ${report.head.chain_hash}`)
  const signed = report.signed_head
  lines.push(signed
    ? `  signed head: position ${signed.position}, signed ${signed.signed_at} by key ${signed.kid}: signature ${signed.verified ? 'verifies' : 'DOES NOT VERIFY'}${signed.covers_head ? '' : ' (the head is past it)'}`
    : '  signed head: none yet')
  const b = report.first_break
  if (b) {
    lines.push(`  first break: ${b.kind} (${b.code}) at position ${b.position}` +
      `${b.event_id !== null ? `, ${b.source} event ${b.event_id}` : ''}${b.request_id ? `, request ${b.request_id}` : ''}`, `  ${b.message}`)
  }
  return `${lines.join('\n')}\n`
}

/** Verifies and writes the report; the exit code. */
export async function runAuditVerify (deps: { dbh: DbHandle, config: Config, write: (text: string) => void }, args: AuditVerifyArgs): Promise<number> {
  const keyring = createKeyring({ dbh: deps.dbh, config: deps.config })
  const report = args.requestId ? await verifyRequestChain({ dbh: deps.dbh, keyring }, args.requestId) : await verifyAuditChain({ dbh: deps.dbh, keyring })
  deps.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : describe(report))
  return report.ok ? 0 : 1
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = parseArgs(process.argv.slice(2))
  if (typeof args === 'string') {
    process.stderr.write(`${args}\n`)
    process.exit(2)
  }
  const config = loadConfigOrExit()
  let dbh: DbHandle | undefined
  try {
    dbh = await openCliDb(config)
    process.exitCode = await runAuditVerify({ dbh, config, write: (text) => process.stdout.write(text) }, args)
  } catch (err) {
    process.stderr.write(`audit verification failed: ${redactSecrets((err as Error).message)}\n`)
    process.exitCode = 2
  } finally {
    await dbh?.close()
  }
}
