import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { auth } from '../helper.js'
import { createLocalBlobStore, type BlobStore } from '../../src/storage/blob-store.js'
import { createS3BlobStore } from '../../src/storage/s3-blob-store.js'
import { isStoreUnavailable } from '../../src/storage/unavailable.js'
import { completedArchive } from '../archive/fixtures.js'

/**
 * An object store that is down answers like an unreachable database: 503 DSR_UNAVAILABLE with
 * Retry-After, never 500. Two ways down: a store that answers 503 SlowDown (S3 shedding load; the
 * error S3 documents for it), and one that cannot be reached at all. The app's blobs sit in a local
 * directory until the archive is ready; then every read goes to the store that is down.
 */
if (!process.env.DATABASE_URL) {
  t.test('an object store that is down', { skip: 'DATABASE_URL is not set' }, () => {})
} else {
  const slowDown = createServer((req, res) => {
    req.resume()
    res.writeHead(503, { 'content-type': 'application/xml' })
    res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>')
  })
  await new Promise<void>((resolve) => slowDown.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => (slowDown as Server).close(() => resolve())))
  const closed = createServer()
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
  const closedPort = (closed.address() as AddressInfo).port
  await new Promise<void>((resolve) => closed.close(() => resolve()))

  const s3At = (endpoint: string) => createS3BlobStore({
    url: 's3://dsr-down/blobs',
    pathStyle: true,
    clientConfig: { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 }
  })
  const stores: Array<[string, BlobStore]> = [
    ['answering 503 SlowDown', s3At(`http://127.0.0.1:${(slowDown.address() as AddressInfo).port}`)],
    ['not reachable', s3At(`http://127.0.0.1:${closedPort}`)]
  ]

  const dir = await mkdtemp(join(tmpdir(), 'dsr-store-down-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const local = createLocalBlobStore(dir)
  let down: BlobStore | null = null
  const at = () => down ?? local
  const switching: BlobStore = {
    put: (key, body) => at().put(key, body),
    get: (key, range) => at().get(key, range),
    size: (key) => at().size(key),
    delete: (key) => at().delete(key)
  }
  const { app, id } = await completedArchive(t, { storage: switching })

  for (const [how, store] of stores) {
    t.test(`a store ${how}`, async (t) => {
      down = store
      t.teardown(() => { down = null })
      const err = await store.size('archives/x.zip').then(() => null, (e: unknown) => e)
      t.ok(err, 'the store fails')
      if (how.startsWith('answering')) t.ok(isStoreUnavailable(err), 'as unavailable')
      for (const url of [`/v1/requests/${id}/archive`]) {
        const res = await app.inject({ url, headers: auth() })
        t.equal(res.statusCode, 503, `${url}: ${res.body}`)
        t.equal(res.json().code, 'DSR_UNAVAILABLE')
        t.ok(Number(res.headers['retry-after']) > 0, 'with Retry-After')
      }
    })
  }

  t.test('errors that are not the store being down stay what they are', async (t) => {
    t.notOk(isStoreUnavailable(Object.assign(new Error('no such key'), { name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } })))
    t.notOk(isStoreUnavailable(Object.assign(new Error('denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } })))
    t.notOk(isStoreUnavailable(new Error('plain')))
    t.ok(isStoreUnavailable(Object.assign(new Error('x'), { name: 'InternalError', $metadata: { httpStatusCode: 500 } })))
  })
}
