import t from 'tap'
import { sql } from 'drizzle-orm'
import { auth } from '../helper.js'
import { completedArchive, readZip, sha256 } from './fixtures.js'
import { createLinkSigner } from '../../src/archive/links.js'

const LINK_KEY = 'a-test-signing-key-of-at-least-32-chars'
const { app, id, request } = await completedArchive(t, { env: { LINK_SIGNING_KEY: LINK_KEY } })
const url = `/v1/requests/${id}/archive`
const whole = (await app.inject({ url, headers: auth() })).rawPayload
const size = whole.length
const etag = `"${request.archive.sha256}"`

t.test('two ranges, first half and second half, make the whole', async (t) => {
  t.ok(size > 1000, `a zip of ${size} bytes`)
  const half = Math.floor(size / 2)
  const first = await app.inject({ url, headers: { ...auth(), range: `bytes=0-${half - 1}` } })
  const second = await app.inject({ url, headers: { ...auth(), range: `bytes=${half}-` } })
  t.equal(first.statusCode, 206)
  t.match(first.headers, { 'content-range': `bytes 0-${half - 1}/${size}`, 'content-length': String(half), etag, 'content-type': 'application/zip' })
  t.equal(second.statusCode, 206)
  t.match(second.headers, { 'content-range': `bytes ${half}-${size - 1}/${size}`, 'content-length': String(size - half) })
  const joined = Buffer.concat([first.rawPayload, second.rawPayload])
  t.equal(sha256(joined), request.archive.sha256, 'the same SHA-256 as the archive')
  t.ok(joined.equals(whole))
  await readZip(joined) // and it is a zip

  const suffix = await app.inject({ url, headers: { ...auth(), range: 'bytes=-100' } })
  t.equal(suffix.statusCode, 206)
  t.ok(suffix.rawPayload.equals(whole.subarray(size - 100)), 'a suffix range: the last 100 bytes')
  const past = await app.inject({ url, headers: { ...auth(), range: `bytes=10-${size + 5000}` } })
  t.equal(past.statusCode, 206)
  t.ok(past.rawPayload.equals(whole.subarray(10)), 'an end past the size is clamped')
})

t.test('416 when the range lies outside; If-Range decides; HEAD has headers only', async (t) => {
  const outside = await app.inject({ url, headers: { ...auth(), range: `bytes=${size}-` } })
  t.equal(outside.statusCode, 416)
  t.equal(outside.headers['content-range'], `bytes */${size}`)
  t.equal(outside.json().code, 'DSR_RANGE_NOT_SATISFIABLE')

  const stale = await app.inject({ url, headers: { ...auth(), range: 'bytes=0-9', 'if-range': '"0000"' } })
  t.equal(stale.statusCode, 200, 'If-Range with another ETag: the whole file')
  t.ok(stale.rawPayload.equals(whole))
  const current = await app.inject({ url, headers: { ...auth(), range: 'bytes=0-9', 'if-range': etag } })
  t.equal(current.statusCode, 206, 'If-Range with the current ETag: the range')
  t.equal(current.rawPayload.length, 10)
  const several = await app.inject({ url, headers: { ...auth(), range: 'bytes=0-9,20-29' } })
  t.equal(several.statusCode, 200, 'several ranges are not supported: the whole file')

  const head = await app.inject({ method: 'HEAD', url, headers: auth() })
  t.equal(head.statusCode, 200)
  t.match(head.headers, { 'content-length': String(size), etag, 'accept-ranges': 'bytes' })
  t.equal(head.rawPayload.length, 0)
})

t.test('ranged downloads are audited with the range and byte count', async (t) => {
  const events = (await app.inject({ url: `/v1/requests/${id}/events`, headers: auth() })).json().data as Array<{ action: string, details: { range: string | null, bytes: number, status: number } }>
  const downloads = events.filter((e) => e.action === 'archive_downloaded').map((e) => e.details)
  t.ok(downloads.some((d) => d.range === 'bytes=0-9' && d.bytes === 10 && d.status === 206))
  t.ok(downloads.some((d) => d.range === null && d.bytes === size && d.status === 200))
  t.notOk(downloads.some((d) => d.status === 416 as number), 'refusals are not downloads')
})

t.test('signed links: no API key needed; tampering, expiry and revocation refused', async (t) => {
  const created = await app.inject({ method: 'POST', url: `${url}/links`, headers: auth(), payload: {} })
  t.equal(created.statusCode, 201)
  const link = created.json() as { id: string, url: string, expires_at: string }
  t.match(link.url, new RegExp(`^/v1/archive-links/${link.id}\\?exp=\\d+&sig=[A-Za-z0-9_-]{43}$`))
  const days = (Date.parse(link.expires_at) - Date.now()) / 86_400_000
  t.ok(days > 6.99 && days <= 7, 'seven days by default')

  const got = await app.inject({ url: link.url })
  t.equal(got.statusCode, 200, 'works without an API key')
  t.equal(sha256(got.rawPayload), request.archive.sha256)
  t.equal(got.headers['referrer-policy'], 'no-referrer')
  const ranged = await app.inject({ url: link.url, headers: { range: 'bytes=5-14' } })
  t.equal(ranged.statusCode, 206)
  t.ok(ranged.rawPayload.equals(whole.subarray(5, 15)), 'ranges work on links too')

  const u = new URL(link.url, 'http://x')
  const sig = u.searchParams.get('sig')!
  const exp = u.searchParams.get('exp')!
  const variant = (params: Record<string, string>, path = u.pathname) => `${path}?${new URLSearchParams(params).toString()}`
  const refused = async (target: string, status: number, code: string, what: string) => {
    const res = await app.inject({ url: target })
    t.equal(res.statusCode, status, what)
    t.equal(res.json().code, code, what)
  }
  await refused(variant({ exp, sig: (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1) }), 403, 'DSR_LINK_INVALID', 'a tampered signature')
  await refused(variant({ exp: String(Number(exp) + 86_400), sig }), 403, 'DSR_LINK_INVALID', 'a longer expiry, same signature')
  await refused(variant({ exp, sig }, '/v1/archive-links/00000000-0000-4000-8000-000000000000'), 403, 'DSR_LINK_INVALID', 'another link id')
  await refused(variant({ exp, sig: sig.slice(0, 10) }), 403, 'DSR_LINK_INVALID', 'a short signature')
  await refused(variant({ exp }), 401, 'DSR_LINK_UNSIGNED', 'no signature')

  const short = (await app.inject({ method: 'POST', url: `${url}/links`, headers: auth(), payload: { expires_in_seconds: 1 } })).json()
  await new Promise((resolve) => setTimeout(resolve, 1100))
  await refused(short.url, 403, 'DSR_LINK_EXPIRED', 'an expired link')

  // Expiry is checked twice, each on its own: the signed `exp` (a link whose stored row says it is
  // still valid, signed with an `exp` in the past) and the stored row (signed far ahead, row expired).
  const signer = createLinkSigner(LINK_KEY)
  const fresh = (await app.inject({ method: 'POST', url: `${url}/links`, headers: auth(), payload: {} })).json() as { id: string, url: string }
  await refused(signer.url(fresh.id, new Date(Date.now() - 60_000)), 403, 'DSR_LINK_EXPIRED', 'signed with an exp in the past, row still valid')
  const rowExpired = (await app.inject({ method: 'POST', url: `${url}/links`, headers: auth(), payload: {} })).json() as { id: string, url: string }
  await app.dbh.rows(sql`update archive_links set expires_at = now() - interval '1 second' where id = ${rowExpired.id}`)
  await refused(signer.url(rowExpired.id, new Date(Date.now() + 3_600_000)), 403, 'DSR_LINK_EXPIRED', 'row expired, signed exp still ahead')

  const revoke = await app.inject({ method: 'DELETE', url: `${url}/links/${link.id}`, headers: auth('admin') })
  t.equal(revoke.statusCode, 204)
  await refused(link.url, 403, 'DSR_LINK_REVOKED', 'a revoked link')
  t.equal((await app.inject({ method: 'DELETE', url: `${url}/links/${link.id}`, headers: auth() })).statusCode, 204, 'revoking twice is fine')
  const unknown = await app.inject({ method: 'DELETE', url: `${url}/links/00000000-0000-4000-8000-000000000000`, headers: auth() })
  t.equal(unknown.json().code, 'DSR_LINK_NOT_FOUND')

  const [row] = await app.dbh.rows<{ downloads: number, revoked_by: string }>(sql`select downloads, revoked_by from archive_links where id = ${link.id}`)
  t.equal(Number(row?.downloads), 2, 'the two downloads through the link are counted, refusals are not')
  t.equal(row?.revoked_by, 'admin')

  const events = (await app.inject({ url: `/v1/requests/${id}/events`, headers: auth() })).json().data as Array<{ action: string, actor: string, details: Record<string, unknown> }>
  t.match(events.find((e) => e.action === 'archive_link_created'), { actor: 'admin', details: { link_id: link.id, expires_at: link.expires_at } })
  t.match(events.find((e) => e.action === 'archive_link_revoked'), { actor: 'admin', details: { link_id: link.id } })
  t.equal(events.filter((e) => e.action === 'archive_downloaded' && e.actor === `link:${link.id}`).length, 2, 'link downloads audited with the link as actor')
  t.match(events.find((e) => e.actor === `link:${link.id}` && e.details.range !== null), { details: { range: 'bytes=5-14', bytes: 10 } })
})

t.test('creating links needs archives:read and a ready archive; expiry is bounded', async (t) => {
  t.equal((await app.inject({ method: 'POST', url: `${url}/links`, headers: auth('reader'), payload: {} })).statusCode, 403)
  const tooLong = await app.inject({ method: 'POST', url: `${url}/links`, headers: auth(), payload: { expires_in_seconds: 31 * 86_400 } })
  t.equal(tooLong.statusCode, 400, 'at most 30 days')
  const month = (await app.inject({ method: 'POST', url: `${url}/links`, headers: auth(), payload: { expires_in_seconds: 30 * 86_400 } })).json()
  t.ok(Date.parse(month.expires_at) <= Date.parse(request.archive.expires_at), 'never past the archive\'s expiry')
  const pending = (await app.inject({ method: 'POST', url: '/v1/requests', headers: auth(), payload: { type: 'portability', regime: 'gdpr', subject: { email: 'x@example.com' } } })).json()
  const early = await app.inject({ method: 'POST', url: `/v1/requests/${pending.id}/archive/links`, headers: auth(), payload: {} })
  t.equal(early.statusCode, 409)
  t.equal(early.json().code, 'DSR_ARCHIVE_NOT_READY')
})
