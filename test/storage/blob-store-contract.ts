import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import type { Test } from 'tap'
import type { BlobStore } from '../../src/storage/blob-store.js'

const MiB = 1024 * 1024

/** Deterministic bytes, made chunk by chunk: byte i of the stream is (i * 7 + i >> 8) & 255. */
function * pattern (total: number, chunk = 64 * 1024): Generator<Buffer> {
  for (let at = 0; at < total; at += chunk) {
    const b = Buffer.alloc(Math.min(chunk, total - at))
    for (let i = 0; i < b.length; i++) b[i] = ((at + i) * 7 + ((at + i) >> 8)) & 255
    yield b
  }
}
const patternBytes = (start: number, end: number) => Buffer.concat([...pattern(end + 1)]).subarray(start, end + 1)

async function read (stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of stream) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex')
const body = (text: string) => Readable.from([Buffer.from(text)])

/** A body that yields `first`, then waits for release() before yielding `rest` (or failing). */
function held (first: Buffer, rest: Buffer) {
  let release!: (fail?: Error) => void
  const gate = new Promise<Error | undefined>((resolve) => { release = resolve })
  let sent = false
  const stream = Readable.from((async function * () {
    yield first
    sent = true
    const fail = await gate
    if (fail) throw fail
    yield rest
  })())
  return { stream, release, sent: () => sent }
}

/**
 * What every BlobStore must do, run against each backend (test/storage/blob-store.test.ts): the put
 * contract (size and SHA-256 computed while streaming, bodies larger than a multipart part), ranged
 * reads, sizes, atomic replacement (a reader sees the old blob or the new one, never a half-written
 * one, and a failed write leaves the old one), prefix deletes that stop at the prefix's boundary.
 */
export function blobStoreContract (t: Test, store: BlobStore, opts: { bigBytes: number }) {
  t.test('put returns the size and SHA-256 of what it stored; get returns it', async (t) => {
    const stored = await store.put('c/one.txt', body('hello, store'))
    t.strictSame(stored, { size: 12, sha256: sha256(Buffer.from('hello, store')) })
    t.equal((await read(await store.get('c/one.txt'))).toString(), 'hello, store')
    t.equal(await store.size('c/one.txt'), 12)
    const empty = await store.put('c/empty', Readable.from([]))
    t.strictSame(empty, { size: 0, sha256: sha256(Buffer.alloc(0)) }, 'an empty blob')
    t.equal(await store.size('c/empty'), 0)
  })

  t.test('a body larger than a part is streamed in, hashed on the way, and read back by ranges', async (t) => {
    const total = opts.bigBytes
    let chunks = 0
    const stream = Readable.from((function * () { for (const c of pattern(total)) { chunks++; yield c } })())
    const stored = await store.put('c/big.bin', stream)
    const whole = createHash('sha256')
    for (const c of pattern(total)) whole.update(c)
    t.strictSame(stored, { size: total, sha256: whole.digest('hex') }, `${(total / MiB).toFixed(0)} MiB in ${chunks} chunks`)
    t.equal(await store.size('c/big.bin'), total)
    const across = [5 * MiB - 10, 5 * MiB + 9] as const // across the first part boundary of a 5 MiB multipart upload
    // Compared with equals(): a failing t.same would print megabytes.
    t.ok((await read(await store.get('c/big.bin', { start: across[0], end: across[1] }))).equals(patternBytes(...across)), 'a range across a part boundary')
    t.ok((await read(await store.get('c/big.bin', { start: 0, end: 3 }))).equals(patternBytes(0, 3)), 'the first bytes')
    t.equal((await read(await store.get('c/big.bin', { start: total - 5, end: total + 100 }))).length, 5, 'a range past the end stops at the end')
    t.equal((await read(await store.get('c/big.bin', { start: 10, end: 9 }))).length, 0, 'end < start is empty')
    const back = createHash('sha256')
    for await (const c of await store.get('c/big.bin')) back.update(c as Buffer)
    t.equal(back.digest('hex'), stored.sha256, 'the whole blob reads back with the same SHA-256')
  })

  t.test('size is null and get fails for a missing key', async (t) => {
    t.equal(await store.size('c/missing'), null)
    await t.rejects(async () => { await read(await store.get('c/missing')) }, 'get of a missing key fails')
  })

  t.test('a put replaces the blob whole; readers see the old one until it is done', async (t) => {
    await store.put('c/replace', body('old version'))
    const first = Buffer.alloc(6 * MiB, 1)
    const h = held(first, Buffer.from('tail'))
    const putting = store.put('c/replace', h.stream)
    const fresh = held(first, Buffer.from('tail'))
    const creating = store.put('c/new', fresh.stream)
    while (!h.sent() || !fresh.sent()) await new Promise((resolve) => setTimeout(resolve, 20))
    await new Promise((resolve) => setTimeout(resolve, 300)) // let the store write what it has
    t.equal((await read(await store.get('c/replace'))).toString(), 'old version', 'mid-write: the old blob')
    t.equal(await store.size('c/new'), null, 'mid-write: a new key is not there yet')
    h.release()
    fresh.release()
    t.equal((await putting).size, first.length + 4)
    t.equal((await creating).size, first.length + 4)
    t.equal(await store.size('c/replace'), first.length + 4, 'then the new one')
    t.equal(await store.size('c/new'), first.length + 4)
  })

  t.test('a failed put stores nothing and keeps the blob it would have replaced', async (t) => {
    await store.put('c/kept', body('still here'))
    for (const [key, size] of [['c/kept', 100], ['c/kept', 6 * MiB], ['c/never', 6 * MiB]] as const) {
      const h = held(Buffer.alloc(size, 2), Buffer.alloc(0))
      const putting = store.put(key, h.stream)
      while (!h.sent()) await new Promise((resolve) => setTimeout(resolve, 20))
      h.release(new Error('the source failed'))
      await t.rejects(putting, `a body failing after ${size} bytes fails the put`)
    }
    t.equal((await read(await store.get('c/kept'))).toString(), 'still here', 'the old blob is intact')
    t.equal(await store.size('c/never'), null, 'no half-written blob')
  })

  t.test('delete removes a key, or a prefix and everything under it, and nothing beside it', async (t) => {
    const keys = ['d/r1/a', 'd/r1/t1/1', 'd/r1/t1/2', 'd/r1/t2/1', 'd/r1/t2/2', 'd/r1/t2/3', 'd/r1/t3/1']
    for (const k of keys) await store.put(k, body(k))
    await store.put('d/r10/a', body('a sibling whose name starts the same'))
    await store.put('d/r1.zip', body('beside it'))
    await store.delete('d/r1/a')
    t.equal(await store.size('d/r1/a'), null, 'one key')
    t.equal(await store.size('d/r1/t1/1'), 9, 'its neighbours stay')
    await store.delete('d/r1')
    for (const k of keys) t.equal(await store.size(k), null, `${k} deleted with its prefix`)
    t.equal(await store.size('d/r10/a'), 36, 'd/r10/ is not under d/r1/')
    t.equal(await store.size('d/r1.zip'), 9, 'd/r1.zip is not under d/r1/')
    await store.put('d/r2/x', body('x'))
    await store.delete('d/r2/')
    t.equal(await store.size('d/r2/x'), null, 'a trailing slash names the prefix too')
    await store.delete('d/nothing-here')
    t.pass('deleting what is not there is no error')
  })

  t.test('keys outside the key syntax are refused', async (t) => {
    for (const key of ['../escape', 'a//b', 'a/./b', 'a b', '/abs', '']) {
      await t.rejects(async () => store.put(key, body('x')), { message: 'invalid storage key' }, `put ${JSON.stringify(key)}`)
      await t.rejects(async () => store.get(key), { message: 'invalid storage key' }, `get ${JSON.stringify(key)}`)
    }
  })
}
