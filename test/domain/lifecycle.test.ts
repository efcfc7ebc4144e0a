import t from 'tap'
import { sql } from 'drizzle-orm'
import {
  allowedFrom, canTransition, isTerminal, OPEN_STATUSES, REQUEST_STATUSES, TERMINAL_STATUSES, type RequestStatus
} from '../../src/domain/lifecycle.js'
import { createRequestsRepository } from '../../src/db/repositories/requests-repository.js'
import { auth, build, requestBody } from '../helper.js'

/**
 * The lifecycle as documented at the top of src/domain/lifecycle.ts, written out independently
 * so a change to the module's table has to be a deliberate change here too.
 */
const LEGAL: Record<RequestStatus, RequestStatus[]> = {
  received: ['verifying', 'ready', 'rejected', 'cancelled', 'on_hold'],
  verifying: ['ready', 'rejected', 'cancelled', 'on_hold'],
  ready: ['in_progress', 'awaiting_approval', 'awaiting_controller', 'rejected', 'cancelled', 'on_hold'],
  awaiting_approval: ['ready', 'rejected', 'cancelled', 'on_hold'],
  // A managed account's part waits for its administrator; the company's own part, if any, has run.
  awaiting_controller: ['in_progress', 'completed', 'partially_completed', 'failed', 'rejected', 'cancelled', 'on_hold'],
  in_progress: ['completed', 'partially_completed', 'failed', 'awaiting_controller', 'cancelled', 'on_hold'],
  on_hold: ['received', 'verifying', 'ready', 'awaiting_approval', 'awaiting_controller', 'in_progress', 'rejected', 'cancelled'],
  completed: [],
  // Closed, but reopened when an operator retries the failed tasks.
  partially_completed: ['in_progress'],
  failed: ['in_progress'],
  rejected: [],
  cancelled: []
}

t.test('statuses: open and terminal partition the set', async (t) => {
  t.strictSame([...TERMINAL_STATUSES].sort(), ['cancelled', 'completed', 'failed', 'partially_completed', 'rejected'])
  t.strictSame([...OPEN_STATUSES].sort(), ['awaiting_approval', 'awaiting_controller', 'in_progress', 'on_hold', 'ready', 'received', 'verifying'])
  t.strictSame([...OPEN_STATUSES, ...TERMINAL_STATUSES].sort(), [...REQUEST_STATUSES].sort())
  for (const s of REQUEST_STATUSES) t.equal(isTerminal(s), TERMINAL_STATUSES.includes(s), `isTerminal(${s})`)
})

t.test('every legal move in the table is accepted', async (t) => {
  for (const [from, tos] of Object.entries(LEGAL) as Array<[RequestStatus, RequestStatus[]]>) {
    for (const to of tos) {
      // Resuming from on_hold is legal only back to the state it was held from.
      const heldFrom = from === 'on_hold' && to !== 'rejected' && to !== 'cancelled' ? to : null
      t.ok(canTransition(from, to, heldFrom), `${from} → ${to}${heldFrom ? ` (held from ${heldFrom})` : ''}`)
    }
  }
})

t.test('every move not in the table is refused, whatever it was held from', async (t) => {
  let refused = 0
  for (const from of REQUEST_STATUSES) {
    for (const to of REQUEST_STATUSES) {
      if (LEGAL[from].includes(to)) continue
      for (const heldFrom of [null, undefined, ...REQUEST_STATUSES]) {
        if (canTransition(from, to, heldFrom)) t.fail(`${from} → ${to} (held from ${heldFrom}) should be refused`)
      }
      refused++
    }
  }
  t.ok(refused > 50, `${refused} illegal pairs checked`)
})

t.test('named illegal moves', async (t) => {
  for (const final of ['completed', 'rejected', 'cancelled'] as const) {
    for (const to of REQUEST_STATUSES) t.notOk(canTransition(final, to), `final ${final} → ${to}`)
  }
  for (const retryable of ['failed', 'partially_completed'] as const) {
    for (const to of REQUEST_STATUSES) {
      t.equal(canTransition(retryable, to), to === 'in_progress', `${retryable} → ${to}: only an operator retry reopens it`)
    }
  }
  t.notOk(canTransition('received', 'completed'), 'received cannot jump to completed')
  t.notOk(canTransition('received', 'in_progress'), 'received cannot skip ready')
  t.notOk(canTransition('ready', 'received'), 'ready cannot go back to received')
  t.notOk(canTransition('ready', 'verifying'), 'ready cannot go back to verifying')
  t.notOk(canTransition('ready', 'completed'), 'ready cannot jump to completed')
  t.notOk(canTransition('in_progress', 'ready'), 'in_progress cannot go back to ready')
  t.notOk(canTransition('received', 'received'), 'no self-moves')
  t.notOk(canTransition('on_hold', 'on_hold', 'on_hold'), 'on_hold cannot hold again')
  t.notOk(canTransition('on_hold', 'completed', 'in_progress'), 'on_hold cannot finish directly')
})

t.test('on_hold resumes only to the state it was held from', async (t) => {
  t.ok(canTransition('on_hold', 'ready', 'ready'))
  t.notOk(canTransition('on_hold', 'in_progress', 'ready'))
  t.notOk(canTransition('on_hold', 'received', 'ready'))
  t.notOk(canTransition('on_hold', 'ready', null), 'unknown origin: no resume')
  t.notOk(canTransition('on_hold', 'ready'), 'unknown origin: no resume')
  for (const held of ['received', 'verifying', 'ready', 'in_progress'] as const) {
    t.ok(canTransition(held, 'on_hold'), `${held} may be held`)
    t.ok(canTransition('on_hold', held, held), `held from ${held} resumes to ${held}`)
    t.ok(canTransition('on_hold', 'cancelled', held), `held from ${held} may be cancelled`)
    t.ok(canTransition('on_hold', 'rejected', held), `held from ${held} may be rejected`)
  }
  t.ok(canTransition('on_hold', 'cancelled'), 'cancel needs no origin')
  t.ok(canTransition('on_hold', 'rejected', null), 'reject needs no origin')
})

t.test('allowedFrom is the table read backwards', async (t) => {
  for (const to of REQUEST_STATUSES) {
    const expected = REQUEST_STATUSES.filter((from) => LEGAL[from].includes(to))
    t.strictSame(allowedFrom(to), expected, `allowedFrom(${to})`)
  }
  t.strictSame([...allowedFrom('cancelled')].sort(), [...OPEN_STATUSES].sort(), 'every open state can be cancelled')
  t.strictSame(allowedFrom('received'), ['on_hold'], 'received is only re-entered from on_hold')
})

t.test('the repository enforces the lifecycle in the database', async (t) => {
  const app = await build(t)
  const created = await app.inject({ method: 'POST', url: '/v1/requests', headers: auth('writer'), payload: requestBody() })
  t.equal(created.statusCode, 202)
  const id: string = created.json().id
  const repo = createRequestsRepository(app.dbh)

  const held = await repo.transition(id, 'on_hold', 'alice', 'waiting for proof of identity')
  t.match(held, { status: 'moved', row: { status: 'on_hold', heldFrom: 'received' } })

  const wrongResume = await repo.transition(id, 'ready', 'alice')
  t.strictSame(wrongResume, { status: 'illegal', from: 'on_hold' }, 'held from received: cannot resume to ready')

  const resumed = await repo.transition(id, 'received', 'bob', 'proof received')
  t.match(resumed, { status: 'moved', row: { status: 'received', heldFrom: null } })

  const ready = await repo.transition(id, 'ready', 'carol', undefined, { verified_by: 'document' })
  t.match(ready, { status: 'moved', row: { status: 'ready', heldFrom: null } })

  const beforeIllegal = await repo.findById(id)
  const illegal = await repo.transition(id, 'completed', 'mallory', 'skipping the work')
  t.strictSame(illegal, { status: 'illegal', from: 'ready' }, 'ready → completed is refused')
  const afterIllegal = await repo.findById(id)
  t.strictSame(afterIllegal, beforeIllegal, 'the refused move changed nothing on the request')

  t.strictSame(await repo.transition('00000000-0000-4000-8000-000000000000', 'cancelled', 'alice'), { status: 'not_found' })

  const events = await app.dbh.rows<{ actor: string, action: string, from_status: string | null, to_status: string, reason: string | null }>(sql`
    select actor, action, from_status::text as from_status, to_status::text as to_status, reason
    from request_events where request_id = ${id} order by id`)
  t.strictSame(events, [
    { actor: 'writer', action: 'created', from_status: null, to_status: 'received', reason: null },
    { actor: 'alice', action: 'transition', from_status: 'received', to_status: 'on_hold', reason: 'waiting for proof of identity' },
    { actor: 'bob', action: 'transition', from_status: 'on_hold', to_status: 'received', reason: 'proof received' },
    { actor: 'carol', action: 'transition', from_status: 'received', to_status: 'ready', reason: null }
  ], 'exactly the legal moves, in order; the refused ones wrote nothing')

  const viaRepo = await repo.events(id)
  t.strictSame(viaRepo.map((e) => [e.fromStatus, e.toStatus, e.actor]), [
    [null, 'received', 'writer'], ['received', 'on_hold', 'alice'], ['on_hold', 'received', 'bob'], ['received', 'ready', 'carol']
  ])
  t.strictSame(viaRepo[3]?.details, { verified_by: 'document' }, 'details are kept with the event')

  const api = await app.inject({ url: `/v1/requests/${id}`, headers: auth('reader') })
  t.equal(api.statusCode, 200, api.body)
  t.equal(api.json().status, 'ready', 'the API sees the new status')
})
