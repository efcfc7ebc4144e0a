import t from 'tap'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { auth, skipUnlessRequired } from '../helper.js'
import { completedArchive, readZip } from './fixtures.js'

/** Debian's Chromium, installed by scripts/setup-system.sh (playwright-core brings no browser). */
const CHROMIUM = '/usr/bin/chromium'
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']

interface Section { connector: string, heading: string, streams: Array<{ stream: string, records: number, attachments: number, text: string }> }

if (!existsSync(CHROMIUM)) {
  skipUnlessRequired(t, 'browser', 'index.html in a browser', `${CHROMIUM} is not installed (run scripts/setup-system.sh as root)`)
} else {
  const { chromium } = await import('playwright-core')
  const { app, id } = await completedArchive(t)
  const zip = (await app.inject({ url: `/v1/requests/${id}/archive`, headers: auth() })).rawPayload
  const dir = await mkdtemp(join(tmpdir(), 'dsr-archive-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  for (const [name, entry] of await readZip(zip)) {
    await mkdir(dirname(join(dir, name)), { recursive: true })
    await writeFile(join(dir, name), entry.data)
  }

  t.test('the extracted index.html, opened in Chromium, shows each system and its record counts', async (t) => {
    const profile = await mkdtemp(join(tmpdir(), 'dsr-chromium-'))
    const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS })
    t.teardown(async () => {
      await context.close()
      await rm(profile, { recursive: true, force: true })
    })
    const page = context.pages()[0] ?? await context.newPage()
    const requested: string[] = []
    page.on('request', (r) => { requested.push(r.url()) })
    const index = pathToFileURL(join(dir, 'index.html')).href
    const response = await page.goto(index)
    t.ok(response === null || response.ok(), 'the page loads from the file system')
    t.strictSame(requested, [index], 'nothing else is fetched: no scripts, styles, fonts or images from anywhere')
    t.equal(await page.evaluate('document.scripts.length'), 0, 'no scripts')

    const sections: Section[] = await page.$$eval('section[data-connector]', (nodes) => nodes.map((s) => ({
      connector: s.getAttribute('data-connector') ?? '',
      heading: s.querySelector('h2')?.textContent?.trim() ?? '',
      streams: [...s.querySelectorAll('article[data-stream]')].map((a) => ({
        stream: a.getAttribute('data-stream') ?? '',
        records: Number(a.getAttribute('data-records')),
        attachments: Number(a.getAttribute('data-attachments')),
        text: (a as unknown as { innerText: string }).innerText
      }))
    })))
    t.strictSame(sections.map((s) => [s.connector, s.heading]), [['crm', 'Acme CRM'], ['support', 'Help Desk']], 'one section per system, by display name')
    const counts = Object.fromEntries(sections.flatMap((s) => s.streams.map((x) => [`${s.connector}/${x.stream}`, [x.records, x.attachments]])))
    t.strictSame(counts, { 'crm/contacts': [2, 0], 'crm/deals': [0, 0], 'crm/documents': [0, 3], 'support/tickets': [3, 0] })
    const text = Object.fromEntries(sections.flatMap((s) => s.streams.map((x) => [`${s.connector}/${x.stream}`, x.text])))
    t.match(text['crm/contacts'], /People and how to reach them[\s\S]*Categories: contact, identity[\s\S]*2 records/, 'description, categories and count are shown')
    t.match(text['crm/deals'], /Nothing about you was found here/)
    t.match(text['support/tickets'], /3 records/)

    // Every link in the page leads to a file of the archive.
    const hrefs: string[] = await page.$$eval('main a[href]', (links) => links.map((a) => (a as unknown as { href: string }).href))
    t.ok(hrefs.length >= 9, `${hrefs.length} links`)
    for (const href of hrefs) t.ok(href.startsWith('file://') && existsSync(fileURLToPath(href)), `${href.slice(dir.length + 7)} exists`)
  })
}
