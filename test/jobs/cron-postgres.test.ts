import t from 'tap'
import { testDb } from '../helper.js'
import { cronScenario } from './cron-scenario.js'

t.test('scheduled jobs run through pg-boss cron on Postgres (DATABASE_URL)', async (t) => {
  if (!process.env.DATABASE_URL) {
    t.comment('DATABASE_URL is not set: this file does not run here (CI sets it); cron.test.ts runs the embedded database')
    return
  }
  await cronScenario(t, 'postgres', await testDb(t))
})
