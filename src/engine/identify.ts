import type { FastifyBaseLogger } from 'fastify'
import type { DbHandle } from '../db/client.js'
import { createRequestsRepository } from '../db/repositories/requests-repository.js'
import { createTasksRepository } from '../db/repositories/tasks-repository.js'
import { createIdentityRepository } from '../db/repositories/identity-repository.js'
import type { ConnectorInstance, ConnectorRegistry } from '../connectors/registry.js'
import { ConnectorError, type SubjectIdentity } from '../../connectors/types.js'
import { candidatesOf, identifierKeys, merge, needsIdentityCheck, type Candidate, type FoundRecord, type IdentityCheckMode } from '../domain/identity.js'
import { identifyingSystems } from './planner.js'
import type { Boss } from '../jobs/queue.js'
import type { ControllerRouting } from './controller-routing.js'

/** Rounds of searching with what the previous round found, at most. */
export const IDENTIFY_ROUNDS = 3

/** The actor of what the identity check writes. */
const ACTOR = 'engine'

/** A system that could not be asked: its id and the failure's code (never its message, which may quote a value). */
class IdentifyFailed extends Error {
  override name = 'IdentifyFailed'
  constructor (readonly failures: Array<{ connector: string, code: string }>) {
    super(`identity check failed in ${failures.map((f) => `${f.connector} (${f.code})`).join(', ')}`)
  }

  get code (): string { return this.failures[0]?.code ?? 'DSR_JOB_FAILED' }
}

/**
 * The identity check of a ready request (IDENTITY_CHECK), run as a job before anything is planned.
 *
 * Every system whose connector can `identify` is asked whom the request's identifiers lead to. What
 * it finds of the one person (the e-mail address behind a phone number, a vendor id) is added to
 * the identifiers, and the systems not yet asked with them are asked again (enrichment, up to
 * IDENTIFY_ROUNDS rounds), so that a system that knows the person only by e-mail is searched too.
 *
 * When the identifiers lead to records of different people (different e-mail addresses or names
 * behind one phone number, in one system or across several), nothing is planned: the request goes
 * on_hold with the counts and system names (never the values), for a reviewer to pick the person or
 * reject the request (services/identity-review.ts). Otherwise the request is planned with the
 * identifiers found, which its tasks then use (request_identities.subject).
 *
 * What is found is personal data: it is stored with the request (redacted with its subject), and
 * never logged; events and errors carry counts, kinds and system names only.
 */
export function createIdentityCheck (deps: {
  dbh: DbHandle
  registry: ConnectorRegistry
  boss: Boss
  log: FastifyBaseLogger
  routing: ControllerRouting
  /** IDENTITY_CHECK ('always' when not given): whom the check is for itself, and whom only for customer accounts. */
  mode?: IdentityCheckMode
}) {
  const { dbh, registry, boss, log } = deps
  const requests = createRequestsRepository(dbh)
  const tasks = createTasksRepository(dbh)
  const identities = createIdentityRepository(dbh)

  async function ask (c: ConnectorInstance, requestId: string, subject: SubjectIdentity): Promise<FoundRecord[]> {
    const signal = AbortSignal.timeout(c.timeoutMs)
    const found = await c.connector.identify!({ requestId, subject, signal, log: log.child({ connector: c.id }) })
    return found.map((f) => ({ ...f, connector: c.id }))
  }

  /** The check's rounds in `systems`: every person found, and the identifiers they add when there is one. */
  async function search (requestId: string, own: SubjectIdentity, systems: readonly ConnectorInstance[]): Promise<{ candidates: Candidate[], subject: SubjectIdentity, rounds: number, failures: Array<{ connector: string, code: string }> }> {
    const asked = new Map<string, Set<string>>()
    let found: FoundRecord[] = []
    let subject = own
    let candidates: Candidate[] = candidatesOf([], own)
    let rounds = 0
    const failures: Array<{ connector: string, code: string }> = []
    while (rounds < IDENTIFY_ROUNDS) {
      const keys = identifierKeys(subject)
      const due = systems.filter((c) => [...keys].some((k) => !asked.get(c.id)?.has(k)))
      if (due.length === 0) break
      rounds++
      const answers = await Promise.allSettled(due.map((c) => ask(c, requestId, subject)))
      answers.forEach((a, i) => {
        const c = due[i]!
        if (a.status === 'fulfilled') {
          asked.set(c.id, keys)
          found = [...found.filter((f) => f.connector !== c.id), ...a.value]
        } else {
          failures.push({ connector: c.id, code: a.reason instanceof ConnectorError ? a.reason.code : 'DSR_CONNECTOR_INTERNAL' })
        }
      })
      if (failures.length > 0) break
      candidates = candidatesOf(found, own)
      if (candidates.length > 1) break
      subject = merge(own, ...candidates.map((c) => c.identifiers))
    }
    return { candidates, subject, rounds, failures }
  }

  /**
   * Checks the request and plans it, or holds it. Idempotent: a request no longer ready (planned,
   * held, cancelled) is left as it is. A system that cannot be asked fails the job, which the queue
   * retries; on its last attempt the request is held for a person instead.
   */
  async function run (requestId: string, opts: { lastAttempt: boolean } = { lastAttempt: true }): Promise<void> {
    const request = await requests.findById(requestId)
    if (!request) return
    // Checked before: what is left is to tell the administrators of its waiting parts (a retry of a send that failed).
    if (request.status !== 'ready') return deps.routing.notify(request)
    const own = request.subject as SubjectIdentity
    // A request the check would not ask about for itself (IDENTITY_CHECK auto and an e-mail address),
    // only because of customer accounts (planner.ts checksAccounts), is looked for first in the systems
    // that keep records per account; everywhere only when it has records in some account, to tell the
    // company's own part from the accounts'.
    const all = identifyingSystems(registry)
    const accountsFirst = !needsIdentityCheck(deps.mode ?? 'always', own)
    let result = await search(requestId, own, accountsFirst ? all.filter((c) => c.connector.reportsAccounts === true) : all)
    if (accountsFirst && result.failures.length === 0 && result.candidates.some((c) => (c.accounts?.length ?? 0) > 0)) result = await search(requestId, own, all)
    const { candidates, subject, rounds, failures } = result
    if (failures.length > 0 && !opts.lastAttempt) throw new IdentifyFailed(failures)
    const systems = [...new Set(candidates.flatMap((c) => c.systems))].sort()
    const records = candidates.reduce((n, c) => n + c.records, 0)
    const routed = await dbh.transaction(async (tx) => {
      const locked = await tasks.lockRequest(requestId, {}, tx)
      if (!locked || locked.status !== 'ready') return null
      if (failures.length > 0 || candidates.length > 1) {
        const conflict = candidates.length > 1
        await identities.record(requestId, { status: conflict ? 'conflict' : 'failed', subject: null, candidates }, tx)
        const reason = conflict
          ? `the identifiers lead to ${candidates.length} different people (${records} records in ${systems.join(', ')}): a reviewer picks the person or rejects the request`
          : `the identity check could not search ${failures.map((f) => f.connector).join(', ')}: a reviewer confirms the person or rejects the request`
        await requests.transitionFrom(locked, 'on_hold', ACTOR, reason, {
          identity: conflict
            ? { conflict: true, people: candidates.length, records, systems: peopleBySystem(candidates) }
            : { conflict: false, failed: failures }
        }, tx)
        return null
      }
      const added = [...identifierKeys(subject)].filter((k) => !identifierKeys(own).has(k)).map((k) => k.split(':')[0]!)
      await identities.record(requestId, { status: 'resolved', subject, candidates }, tx)
      await requests.recordEvent(requestId, ACTOR, 'identity_checked', `the identifiers lead to ${candidates.length === 0 ? 'no record' : 'one person'}` +
        (added.length > 0 ? `; searched also by ${[...new Set(added)].join(', ')}` : ''), { people: candidates.length, records, systems, rounds, added: [...new Set(added)] }, tx)
      // A managed account's records wait for its administrator; the rest is planned (engine/controller-routing.ts).
      return await deps.routing.routeAndPlan(locked, candidates[0], { registry, tasks, boss, actor: ACTOR }, tx) ? locked : null
    })
    log.info({ requestId, people: candidates.length, rounds, failed: failures.length }, 'identity check done')
    if (routed) await deps.routing.notify(routed)
  }

  return { run }
}

/** Per system, how many of the people found it holds records of, and how many records: counts only. */
function peopleBySystem (candidates: readonly Candidate[]): Array<{ connector: string, people: number }> {
  const systems = [...new Set(candidates.flatMap((c) => c.systems))].sort()
  return systems.map((connector) => ({ connector, people: candidates.filter((c) => c.systems.includes(connector)).length }))
}

export type IdentityCheck = ReturnType<typeof createIdentityCheck>
