import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import t from 'tap'
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import { createLocalBlobStore } from '../../src/storage/blob-store.js'
import { createS3BlobStore } from '../../src/storage/s3-blob-store.js'
import { createBlobStore } from '../../src/storage/from-config.js'
import { loadConfig } from '../../src/config.js'
import { blobStoreContract } from './blob-store-contract.js'
import { startS3Server } from './s3-server.js'

/**
 * The BlobStore contract (blob-store-contract.ts) against both backends: the local directory and an
 * S3-compatible object store, a real server (s3rver) the test starts on a free port with a temporary
 * directory. The S3 store is given 5 MiB parts and 2-key listing pages, so that the contract's large
 * body is a multipart upload and its prefix deletes page.
 */
t.setTimeout(240_000)
const BIG = 12 * 1024 * 1024

t.test('local directory', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dsr-blobs-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  blobStoreContract(t, createLocalBlobStore(dir), { bigBytes: BIG })
})

t.test('S3-compatible object store', async (t) => {
  const s3 = await startS3Server()
  t.teardown(() => s3.stop())
  // A client of our own, watching what the store sends.
  const client = new S3Client(s3.clientConfig)
  t.teardown(() => client.destroy())
  const sent: Array<{ op: string, headers: Record<string, string> }> = []
  client.middlewareStack.add((next, context) => async (args) => {
    sent.push({ op: context.commandName ?? '?', headers: { ...(args.request as { headers: Record<string, string> }).headers } })
    return next(args)
  }, { step: 'finalizeRequest', name: 'watch' })
  const store = createS3BlobStore({ url: `s3://${s3.bucket}/svc/blobs`, client, sse: 'AES256', partSize: 5 * 1024 * 1024, listPageSize: 2 })
  t.teardown(() => store.close?.())

  t.test('the contract', async (t) => { blobStoreContract(t, store, { bigBytes: BIG }) })

  t.test('how it used the store', async (t) => {
    const count = (op: string) => sent.filter((s) => s.op === op).length
    t.ok(count('CreateMultipartUploadCommand') >= 1 && count('UploadPartCommand') >= 3 && count('CompleteMultipartUploadCommand') >= 1,
      `large bodies went as multipart uploads (${count('UploadPartCommand')} parts)`)
    t.ok(count('AbortMultipartUploadCommand') >= 1, 'a failed multipart upload was aborted')
    t.ok(count('ListObjectsV2Command') >= 4, `prefix deletes listed page by page (${count('ListObjectsV2Command')} pages)`)
    t.ok(count('DeleteObjectsCommand') >= 3, 'and deleted each page in one request')
    const writes = sent.filter((s) => s.op === 'PutObjectCommand' || s.op === 'CreateMultipartUploadCommand')
    t.ok(writes.length > 0 && writes.every((w) => w.headers['x-amz-server-side-encryption'] === 'AES256'), `every write asked for SSE (${writes.length} writes)`)
    t.ok(sent.some((s) => s.op === 'GetObjectCommand' && /^bytes=\d+-\d+$/.test(s.headers.range ?? '')), 'reads asked for ranges')
    t.notOk(sent.some((s) => s.op === 'GetObjectCommand' && !s.headers.range && s.headers['x-amz-server-side-encryption']), 'no SSE header on reads')
  })

  t.test('objects sit under the URL\'s prefix', async (t) => {
    await store.put('items/r/1', Readable.from([Buffer.from('x')]))
    const list = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket }))
    const keys = (list.Contents ?? []).map((o) => o.Key!)
    t.ok(keys.length > 0 && keys.every((k) => k.startsWith('svc/blobs/')), `every key is under svc/blobs/ (${keys.join(', ')})`)
    t.ok(keys.includes('svc/blobs/items/r/1'))
  })

  t.test('the store STORAGE_URL names, with endpoint and credentials from the AWS SDK variables', async (t) => {
    const saved = { ...process.env }
    t.teardown(() => { for (const k of Object.keys(s3.env)) { if (saved[k] === undefined) delete process.env[k]; else process.env[k] = saved[k] } })
    Object.assign(process.env, s3.env)
    const configured = await createBlobStore(loadConfig({ STORAGE_URL: `s3://${s3.bucket}/from-env`, STORAGE_S3_PATH_STYLE: 'true', DATA_DIR: '/nonexistent' }))
    t.teardown(() => configured.close?.())
    const stored = await configured.put('a/b', Readable.from([Buffer.from('through the environment')]))
    t.equal(stored.size, 23)
    t.equal(await store.size('a/b'), null, 'not under the other prefix')
    const raw = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'from-env/' }))
    t.strictSame((raw.Contents ?? []).map((o) => o.Key), ['from-env/a/b'])
  })
})

t.test('without STORAGE_URL the store is the local directory (STORAGE_DIR, else under DATA_DIR)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dsr-blobs-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await (await createBlobStore(loadConfig({ STORAGE_DIR: join(dir, 'given') }))).put('x/y', Readable.from([Buffer.from('1')]))
  await (await createBlobStore(loadConfig({ DATA_DIR: join(dir, 'data') }))).put('x/y', Readable.from([Buffer.from('1')]))
  t.strictSame((await readdir(dir)).sort(), ['data', 'given'])
  t.strictSame(await readdir(join(dir, 'data')), ['storage'])
})

t.test('storage settings are checked at start', async (t) => {
  const bad: Array<[Record<string, string>, RegExp]> = [
    [{ STORAGE_URL: 'https://bucket.example/prefix' }, /STORAGE_URL: must be s3:\/\/bucket/],
    [{ STORAGE_URL: 's3://Bucket_Name/x' }, /STORAGE_URL: must be s3:\/\/bucket/],
    [{ STORAGE_URL: 's3://bucket/a/../b' }, /STORAGE_URL: must be s3:\/\/bucket/],
    [{ STORAGE_URL: 's3://key:secret@bucket/x' }, /STORAGE_URL: must not hold credentials/],
    [{ STORAGE_URL: 's3://bucket/x', STORAGE_DIR: '/var/x' }, /STORAGE_DIR: not used with STORAGE_URL/],
    [{ STORAGE_URL: 's3://bucket', STORAGE_S3_SSE: 'aws:kms:dsse' }, /STORAGE_S3_SSE/],
    [{ STORAGE_URL: 's3://bucket', STORAGE_S3_SSE: 'AES256', STORAGE_S3_SSE_KMS_KEY_ID: 'k' }, /STORAGE_S3_SSE_KMS_KEY_ID: only with STORAGE_S3_SSE=aws:kms/]
  ]
  for (const [env, message] of bad) t.throws(() => loadConfig(env), { message }, JSON.stringify(env))
  t.throws(() => loadConfig({ STORAGE_URL: 's3://key:secret@bucket/x' }), { message: /^(?![\s\S]*secret)/ }, 'the message does not show the secret')
  const ok = loadConfig({ STORAGE_URL: 's3://dsr-archives/prod/eu', STORAGE_S3_SSE: 'aws:kms', STORAGE_S3_SSE_KMS_KEY_ID: 'alias/dsr' })
  t.match(ok, { STORAGE_URL: 's3://dsr-archives/prod/eu', STORAGE_S3_PATH_STYLE: false, STORAGE_S3_SSE: 'aws:kms' })
})
