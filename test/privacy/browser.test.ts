import t from 'tap'
import { createHash } from 'node:crypto'
import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { auth, build, registryOf, waitFor } from '../helper.js'
import { axeSource, browserAvailable, checkAccessible, openPage } from '../browser.js'
import { fromRoot } from '../paths.js'
import { startSmtp } from '../verification/smtp.js'

/** Where the privacy centre's screenshots are written, for a person to look at (git-ignored; see README). */
const SCREENSHOTS = fromRoot('test-output/screenshots/privacy/')
const PERSON = 'grace.hopper@example.com'

if (browserAvailable(t, 'the privacy centre in a browser')) {
  const axe = await axeSource()
  const smtp = await startSmtp(t)
  const registry = await registryOf([{
    id: 'crm',
    driver: 'memory',
    display_name: 'Customer records',
    settings: { streams: [{ name: 'contacts', match: { email: 'email' }, records: [{ id: 'c1', email: PERSON, name: 'Grace Hopper', plan: 'pro' }] }] }
  }])
  const app = await build(t, { registry, env: { SMTP_URL: smtp.url, TASK_POLL_SECONDS: '0.5', LINK_SIGNING_KEY: 'link-signing-key-0123456789abcdef0123' } })
  const base = await app.listen({ host: '127.0.0.1', port: 0 })
  // The e-mailed links point at the service's public address: here, the address it listens on.
  const local = (link: string) => link.replace(/^http:\/\/localhost:\d+/, base)

  const page = await openPage(t)
  await mkdir(SCREENSHOTS, { recursive: true })
  const shot = (name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true })
  const pages: Array<[string, string]> = []

  t.test('a person asks for their data, confirms from the e-mail, and downloads it', async (t) => {
    await page.goto(`${base}/privacy`)
    await shot('1-form')
    pages.push(['form', page.url()])
    await page.check('#right-access')
    await page.fill('#email', PERSON)
    await page.click('button[type=submit]')
    t.match(page.url(), /\/privacy\/sent\?lang=en$/, 'told to check the e-mail')
    await shot('2-sent')
    pages.push(['sent', page.url()])

    const message = await waitFor(async () => smtp.received.find((m) => m.to.includes(PERSON)), 10_000, 'the confirmation e-mail')
    const link = /(http:\/\/\S+\/privacy\/confirm\?token=\S+)/.exec(message.text)?.[1]
    t.ok(link, 'the e-mail has the link')
    await page.goto(local(link!))
    await shot('3-confirm')
    pages.push(['confirm', page.url()])
    await page.click('button[type=submit]')
    t.match(page.url(), /\/privacy\/status\/[0-9a-f-]{36}\?exp=\d+&sig=/, 'on the signed status page')
    const statusUrl = page.url()
    pages.push(['status', statusUrl])
    const id = /status\/([0-9a-f-]{36})/.exec(statusUrl)![1]!

    await waitFor(async () => {
      const r = (await app.inject({ url: `/v1/requests/${id}`, headers: auth() })).json<{ status: string, archive?: { status: string } | null }>()
      return r.status === 'completed' && r.archive?.status === 'ready'
    }, 60_000, 'the archive')
    await page.reload()
    t.equal(await page.getAttribute('[data-status]', 'data-status'), 'completed')
    await shot('4-status-ready')

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('form[action*="/download"] button')])
    const saved = await download.path()
    const zip = await readFile(saved)
    t.equal(zip.subarray(0, 2).toString('latin1'), 'PK', 'a zip file')
    const summary = (await app.inject({ url: `/v1/requests/${id}`, headers: auth() })).json<{ archive: { sha256: string } }>().archive
    t.equal(createHash('sha256').update(zip).digest('hex'), summary.sha256, 'the archive the service built, whole')

    const zh = statusUrl.replace('lang=en', 'lang=zh-Hans')
    await page.goto(zh)
    t.equal(await page.getAttribute('html', 'lang'), 'zh-Hans')
    t.match(await page.textContent('h1'), '您的请求')
    await shot('5-status-zh')
  })

  t.test('axe-core finds no accessibility violations on the form and status pages; nothing scrolls sideways at 375 px', async (t) => {
    for (const [name, url] of pages) {
      for (const width of [1280, 375]) {
        await page.setViewportSize({ width, height: 900 })
        await page.goto(url)
        await checkAccessible(t, page, axe, `${name} at ${width} px`)
        await shot(`${name}-${width}`)
      }
    }
  })
}
