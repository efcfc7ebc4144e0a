import t from 'tap'
import { testDb } from '../helper.js'
import { timeoutScenario } from './timeout-scenario.js'

// The embedded database here, Postgres in timeout-postgres.test.ts: each in its own process, so
// that the embedded database's work in this one never holds up the other's Postgres connections.
t.test('the verification timeout runs through pg-boss cron on the embedded database', async (t) => {
  await timeoutScenario(t, 'embedded', await testDb(t, { embedded: true }))
})
