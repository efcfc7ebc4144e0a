import t from 'tap'
import { auth } from '../helper.js'
import { completedArchive } from '../archive/fixtures.js'
import { ConsoleClient, KEYS } from './session.js'

/** A request's archive in the console: a link made for the person (shown once), listed, revoked; a ready archive is not rebuilt. */
const { app, id } = await completedArchive(t)
const c = new ConsoleClient(app)
await c.signIn(KEYS.admin)

t.test('a download link is created, shown once, listed and revoked, each on the trail as through the API', async (t) => {
  const page = await c.get(`/console/requests/${id}`)
  t.equal(page.statusCode, 200)
  t.match(page.body, /data-archive-status>ready</)
  const zip = await c.get(`/console/requests/${id}/archive`)
  t.equal(zip.statusCode, 200, 'the operator downloads the archive')
  t.equal(zip.headers['content-type'], 'application/zip')
  const made = await c.post(`/console/requests/${id}/archive/links`, { _csrf: ConsoleClient.csrfOf(page.body), expires_in_days: '2' })
  t.equal(made.statusCode, 201)
  const url = /aria-label="Download link" readonly value="([^"]+)"/.exec(made.body)?.[1]?.replaceAll('&amp;', '&')
  t.ok(url, 'the signed URL is on the page')
  const linkId = /data-link-id>([0-9a-f-]{36})</.exec(made.body)![1]!
  t.equal((await app.inject({ url: url! })).statusCode, 200, 'the link downloads the archive')
  const listed = await c.get(`/console/requests/${id}`)
  t.match(listed.body, new RegExp(`data-link="${linkId}"`), 'listed')
  t.notMatch(listed.body, /sig=/, 'the signature is not shown again')
  const revoked = await c.post(`/console/requests/${id}/archive/links/revoke`, { _csrf: ConsoleClient.csrfOf(listed.body), link_id: linkId })
  t.equal(revoked.statusCode, 303)
  t.match((await app.inject({ url: url! })).json(), { statusCode: 403, code: 'DSR_LINK_REVOKED' }, 'revoked: the link no longer downloads')
  const events = (await app.inject({ url: `/v1/requests/${id}/events`, headers: auth() })).json<{ data: Array<{ action: string, actor: string }> }>().data
  t.match(events.find((e) => e.action === 'archive_downloaded'), { actor: 'admin' }, 'the download is on the trail')
  t.match(events.filter((e) => e.action.startsWith('archive_link_')), [{ action: 'archive_link_created', actor: 'admin' }, { action: 'archive_link_revoked', actor: 'admin' }])
  const again = await c.post(`/console/requests/${id}/archive/rebuild`, { _csrf: ConsoleClient.csrfOf(listed.body) })
  t.equal(again.statusCode, 409, 'a ready archive is not rebuilt: the API\'s rule')
  t.match(again.body, /data-code>DSR_ARCHIVE_NOT_REBUILDABLE</)
})
