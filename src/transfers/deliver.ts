import { createHash } from 'node:crypto'
import http, { type IncomingMessage } from 'node:http'
import https from 'node:https'
import { Transform, type Readable, type TransformCallback } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { pinnedLookup, type ResolvedAddress } from './addresses.js'

/** How much of a receiver's answer is kept: enough for its reference or receipt, never logged. */
export const EXCERPT_BYTES = 2048

export interface Delivery {
  url: URL
  /** The checked address: the connection goes there and nowhere else. */
  address: ResolvedAddress
  body: Readable
  size: number
  /** Hex SHA-256 of the body, as recorded when the archive was built. */
  sha256: string
  /** Idempotency-Key, X-DSR-Request-Id and, when there is one, Authorization; may replace Content-Type and User-Agent. */
  headers: Record<string, string>
  /** No bytes moving in either direction for this long fails the attempt. */
  idleTimeoutMs: number
  /** The longest one attempt may take, however steadily it moves. */
  maxDurationMs: number
  signal: AbortSignal
}

export type DeliveryResult =
  | {
    kind: 'response'
    status: number
    /** The first EXCERPT_BYTES of the receiver's body, as text. */
    excerpt: string
    retryAfterMs?: number
    /** Origin of a redirect's Location (never followed). */
    location?: string
    /** Whether every byte of the archive went out before the answer was taken. */
    bodySent: boolean
    sentSha256: string | null
    bytesSent: number
  }
  | { kind: 'error', reason: 'timeout' | 'connection' | 'integrity' | 'source' | 'aborted', message: string, bytesSent: number }

/**
 * POSTs the archive to the receiver as one streamed body, never holding it whole: Content-Length,
 * Content-Digest (RFC 9530) and the legacy Digest header announce what is coming, and the last
 * chunk is held back until the bytes read are proven to be the archive (size and SHA-256), so a
 * receiver never gets a complete body that differs from its digest. Redirects are never followed.
 */
export async function deliver (d: Delivery): Promise<DeliveryResult> {
  const digest = Buffer.from(d.sha256, 'hex').toString('base64')
  const verifier = new VerifyingStream(d.size, d.sha256)
  const client = d.url.protocol === 'https:' ? https : http
  const req = client.request(d.url, {
    method: 'POST',
    agent: false,
    lookup: pinnedLookup(d.address),
    headers: {
      'content-type': 'application/zip',
      'user-agent': 'dsar-service (direct transfer)',
      ...d.headers,
      'content-length': String(d.size),
      'content-digest': `sha-256=:${digest}:`,
      digest: `sha-256=${digest}`
    }
  })
  let failure: { reason: 'timeout' | 'aborted', message: string } | null = null
  const stop = (reason: 'timeout' | 'aborted', message: string) => {
    failure ??= { reason, message }
    req.destroy(new Error(message))
  }
  req.setTimeout(d.idleTimeoutMs, () => stop('timeout', `no progress for ${Math.round(d.idleTimeoutMs / 1000)} s`))
  const overall = setTimeout(() => stop('timeout', `the attempt took longer than ${Math.round(d.maxDurationMs / 1000)} s`), d.maxDurationMs)
  const onAbort = () => stop('aborted', 'the transfer lost its lease or the worker is stopping')
  if (d.signal.aborted) onAbort()
  else d.signal.addEventListener('abort', onAbort, { once: true })
  let sourceError: Error | null = null
  d.body.once('error', (err) => { sourceError = err })

  const upload = pipeline(d.body, verifier, req).then(() => true, () => false)
  try {
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      req.once('response', resolve)
      req.once('error', reject)
    })
    const status = res.statusCode ?? 0
    const ok = status >= 200 && status < 300
    // A success counts only when the whole archive went out; anything else needs no more of it.
    const bodySent = ok ? await upload : false
    const excerpt = await readExcerpt(res)
    return {
      kind: 'response',
      status,
      excerpt,
      ...retryAfter(res.headers['retry-after']),
      ...redirectOrigin(res.headers.location, d.url),
      bodySent,
      sentSha256: bodySent ? verifier.sha256 : null,
      bytesSent: verifier.forwarded
    }
  } catch (err) {
    const f = failure as { reason: 'timeout' | 'aborted', message: string } | null
    if (f) return { kind: 'error', ...f, bytesSent: verifier.forwarded }
    if (verifier.failure) return { kind: 'error', reason: 'integrity', message: verifier.failure.message, bytesSent: verifier.forwarded }
    if (sourceError) return { kind: 'error', reason: 'source', message: 'reading the stored archive failed', bytesSent: verifier.forwarded }
    const code = (err as NodeJS.ErrnoException).code ?? 'error'
    return { kind: 'error', reason: 'connection', message: `connection failed (${code})`, bytesSent: verifier.forwarded }
  } finally {
    clearTimeout(overall)
    d.signal.removeEventListener('abort', onAbort)
    req.destroy()
    d.body.destroy()
  }
}

/** What a receiver's HTTP status means for a delivery that may be tried again. */
export type AnswerVerdict =
  | { kind: 'ok' }
  | { kind: 'retry', reason: 'rate_limited' | 'timeout' | 'receiver_error' }
  | { kind: 'failed', reason: 'redirect' | 'rejected' }

/**
 * The one reading of a receiver's answer, for direct transfers and status callbacks alike: 2xx is
 * done; 429, 408 and 5xx are worth trying again (after the receiver's Retry-After, if it gave one);
 * a redirect (never followed) and any other 4xx fail.
 */
export function judgeAnswer (status: number): AnswerVerdict {
  if (status >= 200 && status < 300) return { kind: 'ok' }
  if (status >= 300 && status < 400) return { kind: 'failed', reason: 'redirect' }
  if (status === 429) return { kind: 'retry', reason: 'rate_limited' }
  if (status === 408) return { kind: 'retry', reason: 'timeout' }
  if (status >= 500) return { kind: 'retry', reason: 'receiver_error' }
  return { kind: 'failed', reason: 'rejected' }
}

/** Reads at most EXCERPT_BYTES of a response, then lets the rest go. */
function readExcerpt (res: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    const done = () => {
      res.removeAllListeners('data')
      res.destroy()
      resolve(Buffer.concat(chunks).subarray(0, EXCERPT_BYTES).toString('utf8'))
    }
    res.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      size += chunk.length
      if (size >= EXCERPT_BYTES) done()
    })
    res.once('end', done)
    res.once('error', done)
    res.once('aborted', done)
  })
}

/** Retry-After as a delay: delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
function retryAfter (value: string | undefined): { retryAfterMs?: number } {
  if (!value) return {}
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return { retryAfterMs: Number(trimmed) * 1000 }
  const at = Date.parse(trimmed)
  return Number.isNaN(at) ? {} : { retryAfterMs: Math.max(0, at - Date.now()) }
}

/** Only the origin of a redirect target is kept: its path or query may carry tokens. */
function redirectOrigin (location: string | undefined, base: URL): { location?: string } {
  if (!location) return {}
  try {
    return { location: new URL(location, base).origin }
  } catch {
    return { location: '(invalid Location)' }
  }
}

/**
 * Passes the archive through while hashing it, holding back the last chunk until the end proves
 * the bytes are the recorded archive. On a mismatch the stream fails before the body is complete.
 */
class VerifyingStream extends Transform {
  readonly #size: number
  readonly #sha256: string
  readonly #hash = createHash('sha256')
  #read = 0
  #held: Buffer | null = null
  forwarded = 0
  sha256: string | null = null
  failure: Error | null = null

  constructor (size: number, sha256: string) {
    super()
    this.#size = size
    this.#sha256 = sha256
  }

  override _transform (chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#hash.update(chunk)
    this.#read += chunk.length
    if (this.#read > this.#size) {
      cb(this.#fail(`the stored archive is larger than its recorded ${this.#size} bytes`))
      return
    }
    const previous = this.#held
    this.#held = chunk
    if (previous) this.forwarded += previous.length
    cb(null, previous ?? undefined)
  }

  override _flush (cb: TransformCallback): void {
    const sha256 = this.#hash.digest('hex')
    if (this.#read !== this.#size) {
      cb(this.#fail(`the stored archive has ${this.#read} bytes, not its recorded ${this.#size}`))
      return
    }
    if (sha256 !== this.#sha256) {
      cb(this.#fail('the stored archive does not match its recorded SHA-256'))
      return
    }
    this.sha256 = sha256
    if (this.#held) this.forwarded += this.#held.length
    cb(null, this.#held ?? undefined)
  }

  #fail (message: string): Error {
    this.failure = new Error(message)
    return this.failure
  }
}
