import t from 'tap'
import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { parse } from 'csv-parse/sync'
import { createSealer, openRange, segmentSpan, type EncryptionLayout } from '../../src/archive/crypto.js'
import { CsvColumns, csvStream, MAX_CSV_COLUMNS, OVERFLOW_COLUMN } from '../../src/archive/csv.js'
import { MAX_DEPTH, SchemaInferrer } from '../../src/archive/json-schema.js'
import { isCompressed, safeFileName } from '../../src/archive/layout.js'
import { parseRange } from '../../src/archive/range.js'

const collect = async (it: AsyncIterable<Buffer | string>) => {
  const out: Buffer[] = []
  for await (const c of it) out.push(Buffer.from(c))
  return Buffer.concat(out)
}

t.test('schema inference: holds for every record, required only where always present, bounded depth', async (t) => {
  let deep: Record<string, unknown> = { leaf: 1 }
  for (let i = 0; i < MAX_DEPTH + 3; i++) deep = { [`level${i}`]: deep }
  const records = [
    { id: 1, n: 1, tags: ['a'], maybe: null, deep },
    { id: 2, n: 1.5, tags: [], maybe: 'x', only: { a: [1, 'b', { c: true }] } },
    { id: 3, n: -4, tags: ['b', 2], deep: { level0: 'not an object here' } }
  ]
  const inferrer = new SchemaInferrer()
  for (const r of records) inferrer.add(r)
  const schema = inferrer.schema({ id: 's', title: 't', description: 'd' })
  t.strictSame((schema as { required: string[] }).required, ['id', 'n', 'tags'])
  t.match(schema, { properties: { id: { type: 'integer' }, n: { type: 'number' }, maybe: { type: ['string', 'null'] } } })
  const validate = new Ajv2020({ strict: true, allowUnionTypes: true }).compile(schema)
  for (const r of records) t.ok(validate(r), `record ${r.id} valid`)
  t.notOk(validate({ id: 'one', n: 1, tags: [] }), 'and not everything is')
})

t.test('CSV: past the column limit, the other fields go into one JSON column', async (t) => {
  const columns = new CsvColumns()
  const wide = Object.fromEntries(Array.from({ length: MAX_CSV_COLUMNS + 2 }, (_, i) => [`f${i}`, i]))
  columns.add(wide)
  t.equal(columns.header().length, MAX_CSV_COLUMNS + 1)
  t.equal(columns.header().at(-1), OVERFLOW_COLUMN)
  const rows: string[][] = parse(await collect(csvStream(columns, Readable.from([wide]))), { bom: true })
  t.strictSame(JSON.parse(rows[1]!.at(-1)!), { [`f${MAX_CSV_COLUMNS}`]: MAX_CSV_COLUMNS, [`f${MAX_CSV_COLUMNS + 1}`]: MAX_CSV_COLUMNS + 1 })
})

t.test('ranges, file names, compression choices', async (t) => {
  t.strictSame(parseRange('bytes=0-9', 100), { kind: 'partial', start: 0, end: 9 })
  t.strictSame(parseRange('bytes=90-', 100), { kind: 'partial', start: 90, end: 99 })
  t.strictSame(parseRange('bytes=-10', 100), { kind: 'partial', start: 90, end: 99 })
  t.strictSame(parseRange('bytes=100-', 100), { kind: 'unsatisfiable' })
  t.strictSame(parseRange('bytes=-0', 100), { kind: 'unsatisfiable' })
  for (const ignored of ['bytes=5-1', 'bytes=0-1,5-6', 'items=0-1', 'bytes=-']) t.strictSame(parseRange(ignored, 100), { kind: 'whole' }, ignored)
  t.equal(safeFileName('../../etc/passwd'), '_.._etc_passwd')
  t.equal(safeFileName('.hidden'), 'hidden')
  t.equal(safeFileName('Zoë résumé (final).PDF'), 'Zoë résumé (final).PDF')
  t.equal(safeFileName('a\u0000b\nc.txt'), 'a_b_c.txt')
  t.equal(safeFileName(`${'x'.repeat(300)}.jpeg`).length, 120)
  t.equal(safeFileName('...'), 'file')
  t.ok(isCompressed('image/jpeg', 'x') && isCompressed('application/octet-stream', 'x.zip') && isCompressed('application/pdf', 'x'))
  t.notOk(isCompressed('text/plain', 'x.txt') || isCompressed('image/svg+xml', 'x.svg') || isCompressed('application/json', 'x.json'))
})

t.test('sealed segments: any range opens; reordering, truncation and another key fail', async (t) => {
  const key = randomBytes(32)
  const plain = randomBytes(5 * 65_536 + 123)
  const sealer = createSealer(key, 'archive-1')
  const sealed = await collect(Readable.from([plain.subarray(0, 1000), plain.subarray(1000)]).pipe(sealer.transform))
  const layout: EncryptionLayout = sealer.layout()
  t.equal(layout.plaintextSize, plain.length)
  const open = (stored: Buffer, start: number, end: number, k = key, id = 'archive-1') => {
    const span = segmentSpan(layout, start, end)
    return collect(openRange(k, id, layout, Readable.from([stored.subarray(span.cipherStart, span.cipherEnd + 1)]), start, end))
  }
  for (const [a, b] of [[0, plain.length - 1], [65_535, 65_536], [70_000, 200_000], [plain.length - 1, plain.length - 1]] as const) {
    t.ok((await open(sealed, a, b)).equals(plain.subarray(a, b + 1)), `bytes ${a}-${b}`)
  }
  const size = 65_536 + 16
  const swapped = Buffer.concat([sealed.subarray(size, 2 * size), sealed.subarray(0, size), sealed.subarray(2 * size)])
  await t.rejects(open(swapped, 0, 100), 'segments in another order fail')
  const cut = sealed.subarray(0, 5 * size)
  const cutLayout = { ...layout, plaintextSize: 5 * 65_536 }
  const span = segmentSpan(cutLayout, 0, cutLayout.plaintextSize - 1)
  await t.rejects(collect(openRange(key, 'archive-1', cutLayout, Readable.from([cut.subarray(0, span.cipherEnd + 1)]), 0, cutLayout.plaintextSize - 1)),
    'dropping the last segment fails: the new last one lacks the flag')
  await t.rejects(open(sealed, 0, 10, randomBytes(32)), /another key/, 'another key')
  await t.rejects(open(sealed, 0, 10, key, 'archive-2'), 'another archive\'s file')
})
