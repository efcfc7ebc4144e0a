import type { DbHandle } from '../db/client.js'
import type { RequestsRepository } from '../db/repositories/requests-repository.js'
import type { TasksRepository } from '../db/repositories/tasks-repository.js'
import type { IdentityRepository } from '../db/repositories/identity-repository.js'
import type { ConnectorRegistry } from '../connectors/registry.js'
import { Errors } from '../errors.js'
import type { ControllerRouting } from '../engine/controller-routing.js'
import { enqueue, identifyJob, type Boss } from '../jobs/queue.js'
import { chosenSubject, maskEmail, maskName, maskPhone } from '../domain/identity.js'
import type { SubjectIdentity } from '../../connectors/types.js'
import type { ChooseIdentity, IdentityReview } from '../schemas/identity.js'

/** The statuses of the identity check a reviewer decides on: the request is on hold. */
const IN_REVIEW = ['conflict', 'failed']

/**
 * The review of a request the identity check held (engine/identify.ts): the people its identifiers
 * led to, masked, with their systems and record counts; and the reviewer's choice of the right
 * person, after which the request is planned with that person's identifiers only (less any another
 * candidate shares, such as the phone number that led to both). Rejecting the request is the
 * ordinary rejection on a legal ground (decisions.ts).
 */
export function createIdentityReview (deps: {
  dbh: DbHandle
  registry: ConnectorRegistry
  tasks: TasksRepository
  requests: RequestsRepository
  identities: IdentityRepository
  boss: Boss
  /** Routing to managed accounts' administrators (engine/controller-routing.ts). */
  routing: Pick<ControllerRouting, 'routeAndPlan'>
}) {
  const { dbh, registry, tasks, requests, identities, boss } = deps

  return {
    async get (requestId: string): Promise<IdentityReview> {
      if (!await requests.findById(requestId)) throw new Errors.RequestNotFound(requestId)
      const row = await identities.get(requestId)
      if (!row) return { status: 'not_checked', people: 0, candidates: [], chosen_by: null, chosen_at: null }
      return {
        status: row.status as IdentityReview['status'],
        people: row.candidates.length,
        candidates: row.candidates.map((c, index) => ({
          index,
          email: c.identifiers.email ? maskEmail(c.identifiers.email) : null,
          phone: c.identifiers.phone ? maskPhone(c.identifiers.phone) : null,
          names: c.names.map(maskName),
          systems: c.systems,
          records: c.records
        })),
        chosen_by: row.chosenBy,
        chosen_at: row.chosenAt?.toISOString() ?? null
      }
    },

    /**
     * The reviewer's choice: a candidate by index, or the right person's e-mail address (that of a
     * candidate, whose other identifiers then come with it, or one the reviewer confirmed with the
     * person). The request resumes and is planned at once, in one transaction.
     */
    async choose (requestId: string, actor: string, input: ChooseIdentity): Promise<void> {
      await dbh.transaction(async (tx) => {
        const current = await tasks.lockRequest(requestId, {}, tx)
        if (!current) throw new Errors.RequestNotFound(requestId)
        const row = await identities.get(requestId, tx)
        if (current.status !== 'on_hold' || !row || !IN_REVIEW.includes(row.status)) {
          throw new Errors.IdentityNotInReview(current.status === 'on_hold' ? (row?.status ?? 'not_checked') : current.status)
        }
        const byEmail = input.email?.trim().toLowerCase()
        const index = input.candidate ?? row.candidates.findIndex((c) => c.identifiers.email !== undefined && c.identifiers.email.toLowerCase() === byEmail)
        if (input.candidate !== undefined && !row.candidates[input.candidate]) throw new Errors.IdentityCandidateUnknown(input.candidate)
        const subject: SubjectIdentity = index >= 0 ? chosenSubject(row.candidates, index) : { email: byEmail! }
        await identities.choose(requestId, subject, actor, tx)
        const how = index >= 0 ? `candidate ${index} of ${row.candidates.length}` : 'an e-mail address no candidate has'
        const moved = await requests.transitionFrom(current, current.heldFrom ?? 'ready', actor, `identity review: the reviewer chose ${how}`,
          { identity: { chosen: index >= 0 ? index : null, people: row.candidates.length, kinds: Object.keys(subject).sort() } }, tx)
        if (moved.status !== 'moved') throw new Errors.IllegalTransition(current.status, current.heldFrom ?? 'ready')
        // The chosen person's records in managed accounts wait for their administrators, as after the check itself;
        // the identity check's job, queued again, then tells them (it finds the request checked).
        const candidate = index >= 0 ? row.candidates[index] : undefined
        if (await deps.routing.routeAndPlan(moved.row, candidate, { registry, tasks, boss, actor }, tx)) await enqueue(boss, [identifyJob(requestId)], tx)
      })
    }
  }
}

export type IdentityReviewService = ReturnType<typeof createIdentityReview>
