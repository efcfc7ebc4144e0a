import t from 'tap'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { auth } from '../helper.js'
import { axeSource, browserAvailable, checkAccessible, openPage } from '../browser.js'
import { ADA_CONTACTS, ADA_TICKETS, completedArchive, readZip } from './fixtures.js'
import { fromRoot } from '../paths.js'

/** Where the screenshots of the page are written, for a person to look at (git-ignored; see README). */
const SCREENSHOTS = fromRoot('test-output/screenshots/')

/** The headings of what GDPR Art 15(1) and (2) require, under each stream's data. */
const ART15_HEADINGS = ['Why we use it', 'Legal basis', 'Kinds of data', 'Who receives it', 'How long we keep it',
  'Where it comes from', 'Where it is stored and sent', 'Automated decisions']

interface Stream { stream: string, records: number, attachments: number, title: string, headers: string[], fields: string[], rows: string[][], info: Record<string, string>, text: string }
interface Section { connector: string, heading: string, streams: Stream[] }

if (browserAvailable(t, 'index.html in a browser')) {
  const axe = await axeSource()
  const { app, id } = await completedArchive(t)
  const zip = (await app.inject({ url: `/v1/requests/${id}/archive`, headers: auth() })).rawPayload
  const dir = await mkdtemp(join(tmpdir(), 'dsr-archive-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  for (const [name, entry] of await readZip(zip)) {
    await mkdir(dirname(join(dir, name)), { recursive: true })
    await writeFile(join(dir, name), entry.data)
  }
  const page = await openPage(t)
  const index = pathToFileURL(join(dir, 'index.html')).href

  t.test('the extracted index.html, opened in Chromium, shows every record of every stream as a table row', async (t) => {
    const requested: string[] = []
    page.on('request', (r) => { requested.push(r.url()) })
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
        title: a.querySelector('h3')?.textContent?.trim() ?? '',
        headers: [...a.querySelectorAll('table thead th')].map((th) => th.textContent ?? ''),
        fields: [...a.querySelectorAll('table thead th')].map((th) => th.getAttribute('data-field') ?? ''),
        rows: [...a.querySelectorAll('table tbody tr')].map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
        info: Object.fromEntries([...a.querySelectorAll('dl[data-processing] dt')].map((dt) => [dt.textContent ?? '', (dt.nextElementSibling as unknown as { innerText: string } | null)?.innerText ?? ''])),
        text: (a as unknown as { innerText: string }).innerText
      }))
    })))
    t.strictSame(sections.map((s) => [s.connector, s.heading]), [['crm', 'Acme CRM'], ['support', 'Help Desk']], 'one section per system, by display name')
    const streams = Object.fromEntries(sections.flatMap((s) => s.streams.map((x) => [`${s.connector}/${x.stream}`, x])))
    t.strictSame(Object.fromEntries(Object.entries(streams).map(([k, s]) => [k, [s.records, s.attachments, s.rows.length]])),
      { 'crm/contacts': [2, 0, 2], 'crm/deals': [0, 0, 0], 'crm/documents': [0, 3, 0], 'support/tickets': [3, 0, 3] }, 'one table row per record')
    t.strictSame(Object.fromEntries(Object.entries(streams).map(([k, s]) => [k, s.title])),
      { 'crm/contacts': 'Your contact details', 'crm/deals': 'Deals', 'crm/documents': 'Documents you signed', 'support/tickets': 'Tickets' }, 'streams named for a person: configured titles, or the name in words')

    // Every record, every field, cell for cell (text as stored: no spreadsheet apostrophe here).
    const contacts = streams['crm/contacts']!
    const keys = contacts.fields
    t.strictSame([...keys].sort(), [...new Set(ADA_CONTACTS.flatMap((r) => Object.keys(r)))].sort(), 'a column per field')
    const heading = Object.fromEntries(keys.map((k, i) => [k, contacts.headers[i]]))
    t.match(heading, { id: 'ID', email: 'E-mail', name: 'Name', formula: 'Formula', unicode: 'Unicode' }, 'column names made readable')
    for (const record of ADA_CONTACTS) {
      const row = contacts.rows.find((r) => r[keys.indexOf('id')] === record.id)
      t.ok(row, `a row for contact ${record.id}`)
      const byKey = Object.fromEntries(keys.map((k, i) => [k, row?.[i]]))
      t.equal(byKey.email, record.email)
      t.equal(byKey.name, record.name)
      if ('formula' in record) {
        t.equal(byKey.formula, '=SUM(A1)')
        t.equal(byKey.unicode, 'Zoë — 日本語 🚀')
        t.equal(byKey.active, 'Yes')
        t.equal(byKey.newline?.replace(/\r/g, ''), 'line one\nline two\nline three')
        t.strictSame(JSON.parse(byKey.nested ?? ''), record.nested, 'nested values as compact JSON')
      }
    }
    const tickets = streams['support/tickets']!
    for (const ticket of ADA_TICKETS) t.ok(tickets.rows.some((r) => r.includes(ticket.id) && r.includes(ticket.subject)), `a row for ticket ${ticket.id}`)
    t.match(streams['crm/deals']!.text, /Nothing about you was found here/)
    t.match(streams['crm/documents']!.text, /photo\.png[\s\S]*final\.pdf[\s\S]*notes\.txt/, 'attachments linked by their names')

    // Art 15(1) and (2) for each stream.
    for (const [key, s] of Object.entries(streams)) t.strictSame(Object.keys(s.info), ART15_HEADINGS, `${key}: the Art 15 information`)
    t.match(contacts.info, {
      'Why we use it': 'Managing our customer relationship with you',
      'Who receives it': /Our sales staff\s+Our hosting provider \(processor\)/,
      'How long we keep it': 'Two years after the last contact (2 years)',
      'Where it comes from': 'You, when you signed up',
      'Where it is stored and sent': /Germany: stored there\s+China: sent there to Our engineers in Shenzhen\. Safeguard: Standard contractual clauses/,
      'Kinds of data': 'contact, identity'
    })
    t.equal(streams['crm/documents']!.info['How long we keep it'], 'Ten years, as commercial law requires (10 years)', 'a stream overrides its connector')
    t.match(tickets.info['Automated decisions'], /sorted by topic automatically/)

    // Every link in the data part leads to a file of the archive.
    const hrefs: string[] = await page.$$eval('section[data-connector] a[href]', (links) => links.map((a) => (a as unknown as { href: string }).href))
    t.ok(hrefs.length >= 9, `${hrefs.length} links`)
    for (const href of hrefs) t.ok(href.startsWith('file://') && existsSync(fileURLToPath(href)), `${href.slice(dir.length + 7)} exists`)
  })

  t.test('the company-wide part is there in English and in Chinese', async (t) => {
    await page.goto(index)
    const about = await page.$$eval('section[data-about]', (nodes) => nodes.map((s) => ({
      lang: s.getAttribute('lang'),
      heading: s.querySelector('h2')?.textContent ?? '',
      headings: [...s.querySelectorAll('h3')].map((h) => h.textContent ?? ''),
      text: (s as unknown as { innerText: string }).innerText
    })))
    t.strictSame(about.map((a) => [a.lang, a.heading]), [['en', 'Who we are, and your rights'], ['zh-Hans', '我们是谁，以及您的权利']], 'each part marked with its language')
    t.strictSame(about[0]!.headings, ['Who is responsible for your data', 'Our representative', 'Data protection officer', 'Your rights', 'Where you can complain', 'Data sent to other countries'])
    t.strictSame(about[1]!.headings, ['谁对您的个人信息负责', '我们的代表', '个人信息保护负责人', '您的权利', '您可以向谁投诉', '向境外提供的个人信息'])
    t.match(about[0]!.text, /Example Learning Technology \(Shenzhen\) Co\., Ltd\.[\s\S]*dpo@company\.example[\s\S]*Correct data that is wrong or incomplete[\s\S]*Erase your data[\s\S]*Restrict how we use your data[\s\S]*Object to how we use your data[\s\S]*Complain to a supervisory authority[\s\S]*Federal Data Protection and Information Commissioner/)
    t.match(about[1]!.text, /示例学习科技（深圳）有限公司[\s\S]*更正不准确或不完整的个人信息[\s\S]*删除您的个人信息[\s\S]*限制我们处理您的个人信息[\s\S]*拒绝我们处理您的个人信息[\s\S]*向监管机构投诉[\s\S]*国家互联网信息办公室/)
  })

  t.test('axe-core finds no accessibility violations; screenshots at 1280 and 375 px', async (t) => {
    await mkdir(SCREENSHOTS, { recursive: true })
    for (const width of [1280, 375]) {
      await page.setViewportSize({ width, height: 900 })
      await page.goto(index)
      // Opens the collapsed tables, so axe checks them too.
      await page.$$eval('details', (nodes) => { for (const d of nodes) d.setAttribute('open', '') })
      await checkAccessible(t, page, axe, `the archive's page at ${width} px (wide tables scroll inside their own region)`)
      await page.screenshot({ path: join(SCREENSHOTS, `index-${width}.png`), fullPage: true })
      t.ok(existsSync(join(SCREENSHOTS, `index-${width}.png`)), `test-output/screenshots/index-${width}.png`)
    }
  })
}
