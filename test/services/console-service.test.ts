import t from 'tap'
import { createConsoleService, daysLeft, decodeQueueCursor, encodeQueueCursor } from '../../src/services/console-service.js'
import { hashKey, type KeyRecord } from '../../src/services/api-keys.js'

/** The console service's own rules, without a database: sessions for console keys only, sign-outs remembered for a session's lifetime, cursors, days left. */
const HOUR = 3_600_000
function setup () {
  let clock = Date.parse('2026-03-01T09:00:00Z')
  const signedOut = new Map<string, Date>()
  const lookups: Array<{ session: string, since: Date }> = []
  const keys = new Map<string, KeyRecord>([
    [hashKey('console-key-00000000000000000'), { name: 'operator', scopes: ['console', 'requests:read'] }],
    [hashKey('admin-key-000000000000000000'), { name: 'admin', scopes: ['admin'] }],
    [hashKey('api-key-0000000000000000000'), { name: 'api', scopes: ['requests:read'] }]
  ])
  const service = createConsoleService({
    repo: {
      async signedOut (session: string, since: Date) {
        lookups.push({ session, since })
        const at = signedOut.get(session)
        return at !== undefined && at >= since
      }
    } as never,
    requests: {} as never,
    systemEvents: { async record (e: { action: string, details?: Record<string, unknown> | null }) { if (e.action === 'console_signed_out') signedOut.set(String(e.details?.session), new Date(clock)) } },
    apiKeys: keys,
    sessionHours: 12,
    now: () => new Date(clock)
  })
  return { service, lookups, tick: (ms: number) => { clock += ms } }
}

t.test('a session for a key with console (or admin); none for others', async (t) => {
  const { service } = setup()
  t.match(await service.signIn('console-key-00000000000000000'), { status: 'signed_in', record: { name: 'operator' } })
  t.match(await service.signIn('admin-key-000000000000000000'), { status: 'signed_in', record: { name: 'admin' } })
  t.match(await service.signIn('api-key-0000000000000000000'), { status: 'no_console_scope' })
  t.match(await service.signIn('unknown-key-00000000000000000'), { status: 'unknown_key' })
})

t.test('signed out is signed out for good; only the sign-outs of a session\'s lifetime are looked up', async (t) => {
  const { service, lookups, tick } = setup()
  const s = await service.signIn('console-key-00000000000000000')
  if (s.status !== 'signed_in') throw new Error('not signed in')
  t.match(await service.principalOf(s.session, s.keyHash), { name: 'operator' })
  t.equal(lookups.at(-1)!.since.toISOString(), '2026-02-28T21:00:00.000Z', 'twelve hours back')
  await service.signOut(s.session, 'operator')
  t.equal(await service.principalOf(s.session, s.keyHash), null, 'refused at once, from memory')
  const other = setup()
  await other.service.signOut(s.session, 'operator') // another instance's trail records it
  t.equal(await other.service.principalOf(s.session, s.keyHash), null)
  tick(13 * HOUR)
  t.equal(await service.principalOf(s.session, s.keyHash), null, 'still refused (the cookie has expired by then anyway)')
  t.equal(await service.principalOf('no-such-session', hashKey('api-key-0000000000000000000')), null, 'a key that lost console has no session')
})

t.test('queue cursors round-trip; anything else is DSR_INVALID_CURSOR; days left round down', async (t) => {
  const key = { asOf: new Date('2026-03-01T09:00:00Z'), overdue: true, child: false, dueAt: new Date('2026-02-27T23:59:59.999Z'), seq: 42 }
  t.strictSame(decodeQueueCursor(encodeQueueCursor(key)), key)
  t.throws(() => decodeQueueCursor('bm9wZQ'), { code: 'DSR_INVALID_CURSOR' })
  t.throws(() => decodeQueueCursor(Buffer.from('q1:1:2:0:1:1').toString('base64url')), { code: 'DSR_INVALID_CURSOR' })
  const now = new Date('2026-03-01T12:00:00Z')
  t.equal(daysLeft(new Date('2026-03-02T11:00:00Z'), now), 0)
  t.equal(daysLeft(new Date('2026-03-03T12:00:00Z'), now), 2)
  t.equal(daysLeft(new Date('2026-03-01T11:00:00Z'), now), -1)
})
