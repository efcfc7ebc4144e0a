import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { killAll, start as startIn, stop, waitReady } from './newcomer.js'

/**
 * The zero-setup default, as a newcomer gets it: `src/server.ts` with no DATABASE_URL and no keys
 * starts an embedded database in DATA_DIR, prints a development key once, and keeps its data across
 * restarts. Always embedded, whatever DATABASE_URL the test run has.
 */

// Two cold starts of an embedded database on a busy two-core machine.
t.setTimeout(300_000)

const dataDir = mkdtempSync(join(tmpdir(), 'dsr-embedded-'))
t.teardown(() => {
  killAll()
  rmSync(dataDir, { recursive: true, force: true })
})
const start = () => startIn(dataDir)

t.test('embedded database: first start, restart, same key and data', async (t) => {
  const email = `newcomer.${randomBytes(4).toString('hex')}@example.com`

  // First start: the key is printed once.
  const first = await start()
  let key = ''
  await waitReady(first, () => {
    key = /export DSR_KEY=(\S+)/.exec(first.stdout())?.[1] ?? ''
    return key !== ''
  })
  t.match(key, /^dsr_[A-Za-z0-9_-]{43}$/, 'a development key is printed')
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' }

  t.equal((await fetch(`${first.base}/v1/requests`)).status, 401, 'the API needs the key')
  const created = await fetch(`${first.base}/v1/requests`, {
    method: 'POST', headers, body: JSON.stringify({ type: 'access', regime: 'gdpr', subject: { email } })
  })
  t.equal(created.status, 202, 'the printed key can create a request')
  const request = await created.json() as { id: string, status: string, due_at: string, subject: { email: string } }
  t.equal(request.status, 'received')
  t.equal(request.subject.email, email)

  const got = await fetch(`${first.base}/v1/requests/${request.id}`, { headers })
  t.equal(got.status, 200)
  const before = await got.json() as typeof request
  t.match(before, request, 'GET returns what POST returned')

  await stop(t, first)

  // Second start on the same DATA_DIR: no new key, the old one works, the data is there.
  const second = await start()
  await waitReady(second)
  const after = await fetch(`${second.base}/v1/requests/${request.id}`, { headers })
  t.equal(after.status, 200, 'the same key still works after a restart')
  const again = await after.json() as typeof request
  t.equal(again.status, before.status)
  t.equal(again.due_at, before.due_at)
  t.strictSame(again.subject, before.subject)
  t.strictSame(again, before, 'the request survived the restart unchanged')

  await stop(t, second)
  t.notMatch(second.stdout(), /DSR_KEY/, 'the key is not printed a second time')

  // Logs: the subject's e-mail never; the key only in the one banner line.
  const logs = first.output() + second.output()
  t.notOk(logs.includes(email), 'the subject e-mail never appears in the output')
  const linesWithKey = logs.split('\n').filter((line) => line.includes(key))
  t.strictSame(linesWithKey, [`  export DSR_KEY=${key}`], 'the key appears only in the export banner line')
  t.ok(logs.includes('"msg"'), 'the server did write log lines (so the checks above looked at something)')
})
