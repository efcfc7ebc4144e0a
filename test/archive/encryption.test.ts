import t from 'tap'
import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { auth } from '../helper.js'
import { ConfigError, loadConfig } from '../../src/config.js'
import { createArchivesRepository } from '../../src/db/repositories/archives-repository.js'
import { openArchiveStream } from '../../src/archive/read.js'
import { bigFile, completedArchive, readZip, sha256 } from './fixtures.js'

const KEY = randomBytes(32).toString('base64')
const SEGMENT = 64 * 1024

t.test('a bad ARCHIVE_ENCRYPTION_KEY stops boot with a clear message that does not show it', async (t) => {
  for (const bad of ['too-short', randomBytes(16).toString('base64'), randomBytes(33).toString('base64')]) {
    t.throws(() => loadConfig({ ARCHIVE_ENCRYPTION_KEY: bad }), ConfigError)
    try {
      loadConfig({ ARCHIVE_ENCRYPTION_KEY: bad })
    } catch (err) {
      t.match((err as Error).message, /ARCHIVE_ENCRYPTION_KEY: must be 32 random bytes in base64/)
      t.notOk((err as Error).message.includes(bad), 'the value is not echoed')
    }
  }
  t.equal(loadConfig({ ARCHIVE_ENCRYPTION_KEY: KEY }).ARCHIVE_ENCRYPTION_KEY, KEY)
  t.throws(() => loadConfig({ LINK_SIGNING_KEY: 'short' }), /LINK_SIGNING_KEY: must be at least 32 characters/)
})

// A 200 KB JPEG (stored, incompressible) spreads the zip over several 64 KiB segments.
const { app, id, request } = await completedArchive(t, { env: { ARCHIVE_ENCRYPTION_KEY: KEY }, systems: { big: bigFile(200_000) } })
const url = `/v1/requests/${id}/archive`
const row = (await createArchivesRepository(app.dbh).forRequest(id))!
const readStored = async () => {
  const chunks: Buffer[] = []
  for await (const chunk of await app.storage.get(row.storageKey!)) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}
const stored = await readStored()
const download = await app.inject({ url, headers: auth() })
const zip = download.rawPayload

t.test('at rest the file is sealed; the download is the plaintext zip', async (t) => {
  t.ok(zip.length > 3 * SEGMENT, `several segments (${zip.length} bytes)`)
  t.strictSame([...zip.subarray(0, 4)], [0x50, 0x4b, 0x03, 0x04], 'the download is a zip')
  t.notSame([...stored.subarray(0, 4)], [0x50, 0x4b, 0x03, 0x04], 'the stored file does not start like a zip')
  t.notOk(stored.equals(zip), 'the stored bytes are not the zip')
  t.notOk(stored.includes(Buffer.from('manifest.json')), 'no file name shows through')
  t.equal(stored.length, zip.length + Math.ceil(zip.length / SEGMENT) * 16, 'one 16-byte tag per segment')
  t.equal(sha256(zip), request.archive.sha256, 'size, SHA-256 and ETag are of the plaintext')
  t.equal(zip.length, request.archive.size)
  t.equal(download.headers.etag, `"${request.archive.sha256}"`)
  t.match(row.encryption, { algorithm: 'aes-256-gcm', scheme: 'stream-segments-v1', segmentSize: SEGMENT, tagLength: 16, plaintextSize: zip.length, keyId: /^[a-f0-9]{16}$/ })
  const entries = await readZip(zip)
  t.ok(entries.get('files/crm/documents/4-scan.jpg'), 'the big file is inside')
})

t.test('ranges decrypt only what they need, across segment boundaries', async (t) => {
  for (const [start, end] of [[0, 99], [SEGMENT - 10, SEGMENT + 9], [SEGMENT, 2 * SEGMENT - 1], [zip.length - 50, zip.length - 1], [3, 3 * SEGMENT + 7]] as const) {
    const res = await app.inject({ url, headers: { ...auth(), range: `bytes=${start}-${end}` } })
    t.equal(res.statusCode, 206)
    t.ok(res.rawPayload.equals(zip.subarray(start, end + 1)), `bytes ${start}-${end}`)
  }
  const half = Math.floor(zip.length / 2)
  const a = (await app.inject({ url, headers: { ...auth(), range: `bytes=0-${half - 1}` } })).rawPayload
  const b = (await app.inject({ url, headers: { ...auth(), range: `bytes=${half}-` } })).rawPayload
  t.equal(sha256(Buffer.concat([a, b])), request.archive.sha256, 'two halves make the archive')
  const transfer = await openArchiveStream({ dbh: app.dbh, storage: app.storage, config: { ARCHIVE_ENCRYPTION_KEY: KEY } }, id)
  const chunks: Buffer[] = []
  for await (const chunk of transfer!.stream) chunks.push(chunk as Buffer)
  t.equal(sha256(Buffer.concat(chunks)), request.archive.sha256, 'direct transfers read the plaintext too')
})

t.test('a corrupted stored byte makes the download fail, never return wrong data', async (t) => {
  const put = (bytes: Buffer) => app.storage.put(row.storageKey!, Readable.from([bytes]))
  t.teardown(() => put(stored))

  // In the first segment: refused before any byte is sent.
  const early = Buffer.from(stored)
  early[100]! ^= 0x01
  await put(early)
  const refused = await app.inject({ url, headers: auth() })
  t.equal(refused.statusCode, 500)
  t.equal(refused.json().code, 'DSR_INTERNAL')
  t.notOk(refused.rawPayload.includes(zip.subarray(0, 64)), 'none of the plaintext')

  // In a later segment: the response stops short, and what was sent is the true prefix.
  const late = Buffer.from(stored)
  late[2 * (SEGMENT + 16) + 5]! ^= 0x01
  await put(late)
  const broken = await app.inject({ url, headers: auth() }).then((res) => res.rawPayload, () => null)
  t.ok(broken === null || broken.length < zip.length, 'the download does not complete')
  t.comment(broken === null ? 'the response was aborted' : `the response stopped after ${broken.length} bytes`)
  if (broken) {
    t.ok(broken.length <= 2 * SEGMENT, 'nothing of the corrupted segment or after it')
    t.ok(broken.equals(zip.subarray(0, broken.length)), 'what arrived is correct')
  }
  const ranged = await app.inject({ url, headers: { ...auth(), range: `bytes=${2 * SEGMENT}-${2 * SEGMENT + 9}` } })
  t.equal(ranged.statusCode, 500, 'a range in the corrupted segment is refused')

  // A truncated file is noticed before sending.
  await put(stored.subarray(0, stored.length - 1))
  t.equal((await app.inject({ url, headers: auth() })).statusCode, 500, 'a truncated file is refused')

  await put(stored)
  const healed = await app.inject({ url, headers: auth() })
  t.equal(sha256(healed.rawPayload), request.archive.sha256, 'restored, the same download works again')
})
