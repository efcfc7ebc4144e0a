import t from 'tap'
import { isDatabaseUnreachable } from '../../src/db/unreachable.js'

// Which failures answer 503 DSR_UNAVAILABLE (the database is away) rather than 500.
t.test('connection failures are unreachable, on the error or its cause; refused statements are not', async (t) => {
  for (const code of ['ECONNREFUSED', 'ECONNRESET', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECT_TIMEOUT', '57P01', '57P03', '53300', '08006']) {
    t.ok(isDatabaseUnreachable(Object.assign(new Error('x'), { code })), code)
    t.ok(isDatabaseUnreachable(Object.assign(new Error('Failed query'), { cause: Object.assign(new Error('x'), { code }) })), `${code} as a cause`)
  }
  for (const err of [new Error('x'), Object.assign(new Error('x'), { code: '23505' }), Object.assign(new Error('x'), { code: '42P01' }), null, 'ECONNREFUSED']) {
    t.notOk(isDatabaseUnreachable(err), String((err as { code?: string } | null)?.code ?? err))
  }
})
