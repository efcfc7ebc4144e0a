import t from 'tap'
import { testDb } from '../helper.js'
import { timeoutScenario } from './timeout-scenario.js'

t.test('the verification timeout runs through pg-boss cron on Postgres (DATABASE_URL)', async (t) => {
  if (!process.env.DATABASE_URL) {
    t.comment('DATABASE_URL is not set: this file does not run here (CI sets it); timeout.test.ts runs the embedded database')
    return
  }
  await timeoutScenario(t, 'postgres', await testDb(t))
})
