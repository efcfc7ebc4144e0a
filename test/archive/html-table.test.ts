import t from 'tap'
import { HTML_ROWS_PER_STREAM, OPEN_ROWS, recordsTable } from '../../src/archive/html-table.js'
import { durationText, humanize } from '../../src/archive/labels.js'

async function page (records: number) {
  let read = 0
  const rows = (async function * () {
    for (let i = 1; i <= records; i++) {
      read++
      yield { id: i, recipient_email: `p${i}@example.com`, sentAt: '2024-01-01', tags: ['a', 'b'], nested: { x: 1 }, ok: i % 2 === 0, note: '<b>&</b>' }
    }
  })()
  let html = ''
  for await (const chunk of recordsTable({ title: 'Recipients', columns: ['id', 'recipient_email', 'sentAt', 'tags', 'nested', 'ok', 'note'], records, rows, files: { table: 'data/x/y.csv', records: 'data/x/y.ndjson' } })) html += chunk
  return { html, read, rows: html.match(/<tr><td>/g)?.length ?? 0 }
}

t.test('a small table is shown open, every record a row, values readable and escaped', async (t) => {
  const { html, rows } = await page(OPEN_ROWS)
  t.equal(rows, OPEN_ROWS)
  t.notMatch(html, /<details/, 'not collapsed')
  t.match(html, /<th scope="col" data-field="recipient_email">Recipient e-mail<\/th><th scope="col" data-field="sentAt">Sent at<\/th>/)
  t.match(html, /<td>1<\/td><td>p1@example\.com<\/td><td>2024-01-01<\/td><td>a, b<\/td><td>\{&#34;x&#34;:1\}<\/td><td>No<\/td><td>&#60;b&#62;&#38;&#60;\/b&#62;<\/td>/)
  t.match(html, /role="region" tabindex="0" aria-label="Recipients: records"/, 'a wide table scrolls in a focusable, named region')
  t.notMatch(html, /data-rows-capped/)
})

t.test('a larger one is collapsed; past HTML_ROWS_PER_STREAM the page stops and points to the files', async (t) => {
  t.match((await page(OPEN_ROWS + 1)).html, /<details class="records">\n<summary>Show all 11 records<\/summary>/)
  const big = await page(HTML_ROWS_PER_STREAM * 3)
  t.equal(big.rows, HTML_ROWS_PER_STREAM, 'rows shown are capped')
  t.ok(big.read <= HTML_ROWS_PER_STREAM + 1, `reading stops there too (${big.read} read)`)
  t.match(big.html, /<summary>Show the first 500 records<\/summary>/)
  t.match(big.html, /<p class="note" data-rows-capped>This page shows the first 500 records of 1,500 records\. All of them are in <a href="data\/x\/y\.csv">/)
})

t.test('names and durations in words', async (t) => {
  t.equal(humanize('recipient_email'), 'Recipient e-mail')
  t.equal(humanize('result_recipients'), 'Result recipients')
  t.equal(humanize('customerId'), 'Customer ID')
  t.equal(humanize('ip_address'), 'IP address')
  t.equal(durationText('P1M'), '1 month')
  t.equal(durationText('P2Y6M'), '2 years 6 months')
  t.equal(durationText('P90D'), '90 days')
  t.equal(durationText('nonsense'), 'nonsense')
})
