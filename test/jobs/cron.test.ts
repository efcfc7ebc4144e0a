import t from 'tap'
import { testDb } from '../helper.js'
import { cronScenario } from './cron-scenario.js'

// The embedded database here, Postgres in cron-postgres.test.ts: each in its own process, so that
// the embedded database's work in this one never holds up the other's Postgres connections.
t.test('scheduled jobs run through pg-boss cron on the embedded database', async (t) => {
  await cronScenario(t, 'embedded', await testDb(t, { embedded: true }))
})
