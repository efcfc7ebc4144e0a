import t from 'tap'
import { toTaskResource } from '../src/services/request-resource.js'

type Row = Parameters<typeof toTaskResource>[0]

t.test("a deferred outcome's reference is answered as external_ref, and still as externalRef", async (t) => {
  const row = {
    id: '6a1f0c2e-0000-4000-8000-000000000001',
    requestId: '6a1f0c2e-0000-4000-8000-000000000002',
    connectorId: 'crm',
    action: 'erase',
    status: 'succeeded',
    attempts: 1,
    maxAttempts: 5,
    nextAttemptAt: null,
    result: {
      outcomes: [
        { status: 'deferred', stream: 'contacts', externalRef: 'ticket-881' },
        { status: 'erased', stream: 'notes', count: 2 }
      ]
    },
    lastErrorCode: null,
    lastErrorMessage: null,
    skipReason: null,
    instructions: null,
    startedAt: null,
    finishedAt: null
  } as unknown as Row
  const task = toTaskResource(row)
  t.strictSame(task.result?.outcomes, [
    { status: 'deferred', stream: 'contacts', externalRef: 'ticket-881', external_ref: 'ticket-881' },
    { status: 'erased', stream: 'notes', count: 2 }
  ])
  t.strictSame(toTaskResource({ ...row, result: null } as Row).result, null)
  t.strictSame(toTaskResource({ ...row, result: { records: 3 } } as unknown as Row).result, { records: 3 }, 'a result without outcomes as it is')
})
