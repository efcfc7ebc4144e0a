import t from 'tap'
import { sql } from 'drizzle-orm'
import { auth, build, registryOf, testDb, waitFor } from '../helper.js'
import { startSmtp, type Received } from '../verification/smtp.js'

const KNOWN = 'ada.lovelace@example.com'
const UNKNOWN = 'nobody.here@example.org'
const LINK_KEY = 'link-signing-key-0123456789abcdef0123'
const registry = () => registryOf([{
  id: 'crm',
  driver: 'memory',
  settings: { streams: [{ name: 'contacts', match: { email: 'email' }, records: [{ id: 'c1', email: KNOWN, name: 'Ada' }] }] }
}])
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString()
const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

/** The privacy centre's link in an e-mail (confirmation or status), path and query only. */
function linkIn (message: Received, path: string): string {
  const m = new RegExp(`https://centre\\.example\\.test(${path.replace(/\//g, '\\/')}\\S*)`).exec(message.text)
  if (!m) throw new Error(`no ${path} link in the message`)
  return m[1]!
}

t.test('without e-mail the privacy centre is not served, and says why', async (t) => {
  const app = await build(t, { registry: await registry() })
  for (const url of ['/privacy', '/privacy/status/00000000-0000-4000-8000-000000000000']) {
    const res = await app.inject({ url })
    t.equal(res.statusCode, 404, url)
    t.equal(res.json().code, 'DSR_PRIVACY_CENTRE_NOT_CONFIGURED')
  }
})

t.test('the privacy centre', async (t) => {
  const smtp = await startSmtp(t)
  const dbh = await testDb(t)
  const app = await build(t, {
    dbh,
    registry: await registry(),
    env: { SMTP_URL: smtp.url, PUBLIC_URL: 'https://centre.example.test', LINK_SIGNING_KEY: LINK_KEY, TASK_POLL_SECONDS: '0.5', PRIVACY_RATE_LIMIT_PER_IP: '1000' }
  })
  let client = 0
  /** Each submission from its own address, unless the test is about the per-address limit. */
  const submit = (fields: Record<string, string>, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: '/privacy/requests', headers: { ...FORM, ...headers }, remoteAddress: `10.0.0.${++client % 250}`, payload: form(fields) })
  const mailTo = (to: string, from: number) => waitFor(async () => smtp.received.slice(from).find((m) => m.to.includes(to)), 10_000, `a message to ${to}`)

  await t.test('the form, in English or Simplified Chinese as the browser asks, under a strict CSP and with no cookie', async (t) => {
    const en = await app.inject({ url: '/privacy' })
    t.equal(en.statusCode, 200)
    t.match(en.headers['content-type'], /text\/html/)
    t.match(en.body, /<html lang="en">/)
    for (const right of ['access', 'portability', 'erasure', 'restriction', 'objection', 'consent_withdrawal', 'marketing_opt_out']) {
      t.match(en.body, `value="${right}"`, `offers ${right}`)
    }
    t.notMatch(en.body, 'value="rectification"', 'a correction is explained, not offered')
    t.match(en.body, /Why we use it/, 'what each system holds and why (Art 15(1))')
    t.match(en.body, /Complain to a supervisory authority/, 'the right to complain')
    t.match(en.headers['content-security-policy'], /default-src 'none'/)
    t.notMatch(en.headers['content-security-policy'], /script-src/, 'no script at all')
    t.equal(en.headers['referrer-policy'], 'no-referrer')
    t.notOk(en.headers['set-cookie'], 'no cookie')

    const zh = await app.inject({ url: '/privacy', headers: { 'accept-language': 'zh-CN,zh;q=0.9,en;q=0.8' } })
    t.match(zh.body, /<html lang="zh-Hans">/)
    t.match(zh.body, /隐私中心/)
    t.match(zh.body, /向我提供我的个人信息副本/)
    const chosen = await app.inject({ url: '/privacy?lang=en', headers: { 'accept-language': 'zh-CN' } })
    t.match(chosen.body, /<html lang="en">/, '?lang wins over the browser')
  })

  await t.test('a known and an unknown address are answered alike, and each gets a confirmation link', async (t) => {
    const before = smtp.received.length
    const known = await submit({ type: 'access', email: KNOWN })
    const unknown = await submit({ type: 'access', email: UNKNOWN })
    for (const res of [known, unknown]) {
      t.equal(res.statusCode, 303)
      t.equal(res.headers.location, '/privacy/sent?lang=en')
    }
    t.strictSame(Object.keys(known.headers).sort(), Object.keys(unknown.headers).sort(), 'the same headers')
    t.equal(known.body, unknown.body, 'the same body')
    for (const to of [KNOWN, UNKNOWN]) {
      const message = await mailTo(to, before)
      t.match(linkIn(message, '/privacy/confirm'), /^\/privacy\/confirm\?token=[A-Za-z0-9_-]{43}&lang=en$/, `${to}: a link to the centre's confirmation page`)
    }
    const rows = await dbh.rows<{ status: string, channel: string, created_by: string }>(sql`select status, channel, created_by from requests order by created_at`)
    t.strictSame(rows, [
      { status: 'verifying', channel: 'web_form', created_by: 'privacy-centre' },
      { status: 'verifying', channel: 'web_form', created_by: 'privacy-centre' }
    ], 'both stored, waiting for confirmation: no system searched yet')
  })

  await t.test('the e-mail is in the language the person used', async (t) => {
    const before = smtp.received.length
    await submit({ type: 'erasure', email: 'li.lei@example.cn', lang: 'zh-Hans' })
    const message = await mailTo('li.lei@example.cn', before)
    t.match(message.text, /请打开以下链接/)
    t.match(linkIn(message, '/privacy/confirm'), /&lang=zh-Hans$/)
  })

  await t.test('confirming leads to the signed status page; the data then downloads through a signed link', async (t) => {
    const before = smtp.received.length
    await submit({ type: 'access', email: KNOWN })
    const confirmLink = linkIn(await mailTo(KNOWN, before), '/privacy/confirm')

    const page = await app.inject({ url: confirmLink })
    t.equal(page.statusCode, 200, 'opening the link changes nothing')
    t.match(page.body, /<form method="post" action="\/privacy\/confirm\?token=/)
    const id = (await dbh.rows<{ id: string }>(sql`select id from requests where channel = 'web_form' order by created_at desc limit 1`))[0]!.id
    t.equal((await app.inject({ url: `/v1/requests/${id}`, headers: auth() })).json().status, 'verifying')

    const afterConfirm = smtp.received.length
    const confirmed = await app.inject({ method: 'POST', url: confirmLink, headers: FORM, payload: '' })
    t.equal(confirmed.statusCode, 303)
    const statusLink = confirmed.headers.location as string
    t.match(statusLink, new RegExp(`^/privacy/status/${id}\\?exp=\\d+&sig=[A-Za-z0-9_-]{43}&lang=en$`))
    t.equal(linkIn(await mailTo(KNOWN, afterConfirm), '/privacy/status'), statusLink, 'the status link is e-mailed too')
    t.equal((await app.inject({ method: 'POST', url: confirmLink, headers: FORM, payload: '' })).statusCode, 403, 'the link works once')

    await waitFor(async () => {
      const r = (await app.inject({ url: `/v1/requests/${id}`, headers: auth() })).json()
      return r.status === 'completed' && r.archive?.status === 'ready'
    }, 60_000, 'the archive')
    const status = await app.inject({ url: statusLink })
    t.equal(status.statusCode, 200)
    t.match(status.body, /data-status="completed"/)
    t.match(status.body, /Download my data/)
    t.match(status.body, /manifest\.json/, 'what each part of the download holds')
    t.match(status.body, /Where it comes from/, 'the Art 15(1) information')
    t.notMatch(status.body, KNOWN, 'the page names no personal data')
    t.equal(status.headers['cache-control'], 'no-store')

    const download = await app.inject({ method: 'POST', url: statusLink.replace('?', '/download?'), headers: FORM, payload: '' })
    t.equal(download.statusCode, 303)
    t.match(download.headers.location, /^\/v1\/archive-links\/[0-9a-f-]{36}\?exp=\d+&sig=/)
    const zip = await app.inject({ url: download.headers.location as string })
    t.equal(zip.statusCode, 200)
    t.equal(zip.headers['content-type'], 'application/zip')
    const trail = (await app.inject({ url: `/v1/requests/${id}/events`, headers: auth() })).json<{ data: Array<{ action: string, actor: string }> }>().data
    t.ok(trail.some((e) => e.action === 'archive_link_created' && e.actor === 'privacy-centre:status-link'), 'the link is on the trail')

    const tampered = statusLink.replace(/sig=([A-Za-z0-9_-])/, (_, c: string) => `sig=${c === 'A' ? 'B' : 'A'}`)
    const refused = await app.inject({ url: tampered })
    t.equal(refused.statusCode, 403)
    t.match(refused.body, /DSR_STATUS_LINK_INVALID/)
    t.match(refused.body, /Use the link exactly as it was e-mailed to you/, 'said in the person\'s words')
    t.match((await app.inject({ url: tampered.replace('lang=en', 'lang=zh-Hans') })).body, /请完整使用邮件中发送给您的链接/, 'and in their language')
    const otherRequest = statusLink.replace(id, '00000000-0000-4000-8000-000000000000')
    t.equal((await app.inject({ url: otherRequest })).statusCode, 403, 'a signature is for its own request only')
    t.equal((await app.inject({ method: 'POST', url: tampered.replace('?', '/download?'), headers: FORM, payload: '' })).statusCode, 403, 'no download without a valid link')
  })

  await t.test('a form from another site, or a broken one, is refused with a page that says why', async (t) => {
    const cross = await submit({ type: 'access', email: UNKNOWN }, { 'sec-fetch-site': 'cross-site' })
    t.equal(cross.statusCode, 403)
    t.match(cross.body, /DSR_CROSS_SITE_FORM/)
    const origin = await submit({ type: 'access', email: UNKNOWN }, { origin: 'https://evil.example' })
    t.equal(origin.statusCode, 403)
    const bad = await submit({ type: 'access', email: 'not an address' })
    t.equal(bad.statusCode, 400)
    t.match(bad.body, /give an e-mail address that can receive mail/)
    t.match(bad.body, /DSR_VALIDATION_FAILED/)
    const cut = await app.inject({ url: '/privacy/confirm?token=abc' })
    t.equal(cut.statusCode, 400, 'a link cut short')
    t.match(cut.body, /This link is not valid/)
    t.equal((await app.inject({ url: '/privacy/status/not-a-request?exp=1&sig=x' })).statusCode, 400)
    const rectification = await submit({ type: 'rectification', email: UNKNOWN })
    t.equal(rectification.statusCode, 400, 'a right the centre does not offer')
  })
})

t.test('on the embedded database: ask, confirm, follow and download', async (t) => {
  const smtp = await startSmtp(t)
  const dbh = await testDb(t, { embedded: true })
  const app = await build(t, { dbh, registry: await registry(), env: { SMTP_URL: smtp.url, PUBLIC_URL: 'https://centre.example.test', TASK_POLL_SECONDS: '0.5' } })
  t.equal((await app.inject({ method: 'POST', url: '/privacy/requests', headers: FORM, payload: form({ type: 'portability', email: KNOWN }) })).statusCode, 303)
  const confirmLink = linkIn(await waitFor(async () => smtp.received[0], 10_000, 'the e-mail'), '/privacy/confirm')
  const statusLink = (await app.inject({ method: 'POST', url: confirmLink, headers: FORM, payload: '' })).headers.location as string
  const id = /status\/([0-9a-f-]{36})/.exec(statusLink)![1]!
  await waitFor(async () => (await app.inject({ url: `/v1/requests/${id}`, headers: auth() })).json().archive?.status === 'ready', 60_000, 'the archive')
  t.match((await app.inject({ url: statusLink })).body, /Download my data/)
  const download = await app.inject({ method: 'POST', url: statusLink.replace('?', '/download?'), headers: FORM, payload: '' })
  t.equal((await app.inject({ url: download.headers.location as string })).headers['content-type'], 'application/zip')
})

t.test('asked again while the same request is open and confirmed, the person is e-mailed its status link', async (t) => {
  for (const policy of ['merge', 'refuse']) {
    await t.test(`DUPLICATE_POLICY ${policy}`, async (t) => {
      const smtp = await startSmtp(t)
      const app = await build(t, { registry: await registry(), env: { SMTP_URL: smtp.url, PUBLIC_URL: 'https://centre.example.test', APPROVAL_REQUIRED: 'access', DUPLICATE_POLICY: policy } })
      const ask = () => app.inject({ method: 'POST', url: '/privacy/requests', headers: FORM, payload: form({ type: 'access', email: KNOWN }) })
      t.equal((await ask()).statusCode, 303)
      const first = await waitFor(async () => smtp.received[0], 10_000, 'the confirmation')
      // Asked again before confirming: a new link for the same request, the first one replaced.
      t.equal((await ask()).statusCode, 303)
      const second = await waitFor(async () => smtp.received[1], 10_000, 'the second confirmation')
      t.equal((await app.inject({ method: 'POST', url: linkIn(first, '/privacy/confirm'), headers: FORM, payload: '' })).statusCode, 403, 'the replaced link')
      const confirmed = await app.inject({ method: 'POST', url: linkIn(second, '/privacy/confirm'), headers: FORM, payload: '' })
      const statusLink = confirmed.headers.location as string
      await waitFor(async () => smtp.received[2], 10_000, 'the status link')
      const again = await ask()
      t.equal(again.statusCode, 303, 'the same answer')
      const fourth = await waitFor(async () => smtp.received[3], 10_000, 'the status link again')
      t.equal(linkIn(fourth, '/privacy/status').split('?')[0], statusLink.split('?')[0], 'the open request\'s status link, not a new confirmation')
      t.equal((await app.inject({ url: '/v1/requests?limit=10', headers: auth() })).json().data.length, 1, 'one request')
    })
  }
})

t.test('the status page tells of an extension and its reason, and of a refusal and its ground', async (t) => {
  const smtp = await startSmtp(t)
  const app = await build(t, { registry: await registry(), env: { SMTP_URL: smtp.url, PUBLIC_URL: 'https://centre.example.test', APPROVAL_REQUIRED: 'erasure' } })
  await app.inject({ method: 'POST', url: '/privacy/requests', headers: FORM, payload: form({ type: 'erasure', email: KNOWN }) })
  const confirmLink = linkIn(await waitFor(async () => smtp.received[0], 10_000, 'the e-mail'), '/privacy/confirm')
  const statusLink = (await app.inject({ method: 'POST', url: confirmLink, headers: FORM, payload: '' })).headers.location as string
  const id = /status\/([0-9a-f-]{36})/.exec(statusLink)![1]!
  t.equal((await app.inject({ url: `/v1/requests/${id}`, headers: auth() })).json().status, 'awaiting_approval', 'an erasure waits for approval')
  let page = await app.inject({ url: statusLink })
  t.match(page.body, /data-status="in_progress"/)
  t.match(page.body, /We answer by/)
  t.notMatch(page.body, /Download my data/, 'nothing to download for an erasure')

  const taken = await app.inject({ method: 'POST', url: `/v1/requests/${id}/extension`, headers: auth(), payload: { reason: 'We are checking backups in three places.' } })
  t.equal(taken.statusCode, 200, taken.body)
  page = await app.inject({ url: statusLink })
  t.match(page.body, /Extended until/)
  t.notMatch(page.body, /checking backups/, 'the reason is not shown before the person was told it')
  await app.inject({ method: 'POST', url: `/v1/requests/${id}/extension/notice`, headers: auth(), payload: { notified_subject_at: new Date().toISOString() } })
  page = await app.inject({ url: statusLink })
  t.match(page.body, /checking backups/, 'shown once they were told')

  const rejected = await app.inject({
    method: 'POST',
    url: `/v1/requests/${id}/reject`,
    headers: auth(),
    payload: { ground: 'manifestly_unfounded_or_excessive', explanation: 'The fifth identical request this month.' }
  })
  t.equal(rejected.statusCode, 200, rejected.body)
  page = await app.inject({ url: statusLink })
  t.match(page.body, /data-status="rejected"/)
  t.match(page.body, /The fifth identical request this month\./)
  t.match(page.body, /GDPR Art 12\(5\)/, 'with its provision')
})

t.test('limits per e-mail address and per client address', async (t) => {
  const smtp = await startSmtp(t)
  const app = await build(t, {
    registry: await registry(),
    env: { SMTP_URL: smtp.url, PRIVACY_RATE_LIMIT_PER_EMAIL: '2', PRIVACY_RATE_LIMIT_PER_IP: '4' }
  })
  const submit = (email: string, remoteAddress: string) =>
    app.inject({ method: 'POST', url: '/privacy/requests', headers: FORM, remoteAddress, payload: form({ type: 'access', email }) })
  t.equal((await submit('one@example.com', '10.1.0.1')).statusCode, 303)
  t.equal((await submit('ONE@example.com ', '10.1.0.2')).statusCode, 303, 'the same address however written')
  const third = await submit('one@example.com', '10.1.0.3')
  t.equal(third.statusCode, 429, 'the third for one address in the window, from anywhere')
  t.match(third.body, /DSR_TOO_MANY_REQUESTS/)
  t.ok(Number(third.headers['retry-after']) > 0, 'Retry-After says when')
  t.equal((await submit('two@example.com', '10.1.0.3')).statusCode, 303, 'another address is not held up')

  const codes = []
  for (let i = 0; i < 5; i++) codes.push((await submit(`p${i}@example.com`, '10.2.0.1')).statusCode)
  t.strictSame(codes, [303, 303, 303, 303, 429], 'the fifth form from one client address')
  const requests = (await app.inject({ url: '/v1/requests?limit=100', headers: auth() })).json<{ data: unknown[] }>().data
  t.equal(requests.length, 7, 'nothing was stored for a refused form')
})

t.test('a known and an unknown address take the same time to answer', async (t) => {
  const smtp = await startSmtp(t)
  const app = await build(t, { registry: await registry(), env: { SMTP_URL: smtp.url, PRIVACY_RATE_LIMIT_PER_EMAIL: '1000', PRIVACY_RATE_LIMIT_PER_IP: '1000' } })
  const timed = async (email: string) => {
    const started = process.hrtime.bigint()
    const res = await app.inject({ method: 'POST', url: '/privacy/requests', headers: FORM, payload: form({ type: 'access', email }) })
    const ms = Number(process.hrtime.bigint() - started) / 1e6
    t.equal(res.statusCode, 303)
    return ms
  }
  await timed(UNKNOWN)
  await timed(KNOWN)
  const known: number[] = []
  const unknown: number[] = []
  // Alternating, so that a slow moment of a shared machine falls on both alike.
  for (let i = 0; i < 15; i++) {
    known.push(await timed(KNOWN))
    unknown.push(await timed(UNKNOWN))
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  const ratio = median(known) / median(unknown)
  t.comment(`median answer: known ${median(known).toFixed(1)} ms, unknown ${median(unknown).toFixed(1)} ms (ratio ${ratio.toFixed(2)})`)
  t.ok(ratio > 0.67 && ratio < 1.5, `within noise (ratio ${ratio.toFixed(2)})`)
})

t.test('behind a trusted proxy, the client address is the forwarded one', async (t) => {
  const smtp = await startSmtp(t)
  const app = await build(t, { registry: await registry(), env: { SMTP_URL: smtp.url, TRUST_PROXY: '127.0.0.1', PRIVACY_RATE_LIMIT_PER_IP: '1' } })
  const submit = (client: string, email: string) => app.inject({
    method: 'POST', url: '/privacy/requests', remoteAddress: '127.0.0.1', headers: { ...FORM, 'x-forwarded-for': client }, payload: form({ type: 'access', email })
  })
  t.equal((await submit('203.0.113.7', 'a@example.com')).statusCode, 303)
  t.equal((await submit('198.51.100.9', 'b@example.com')).statusCode, 303, 'another client behind the same proxy')
  t.equal((await submit('203.0.113.7', 'c@example.com')).statusCode, 429, 'the first client again')
})
