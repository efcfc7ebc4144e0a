import { verify, X509Certificate } from 'node:crypto'
import http, { type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * A controller's callback endpoint, written from the OpenDSR specification's rules (§8.8 Callback
 * Authentication) and its security_guidelines.md (callback validation), not from the service's code:
 *
 *  1. read X-OpenDSR-Processor-Domain (or X-OpenGDPR-Processor-Domain, §10.1); a domain not in the
 *     allow-list → 401;
 *  2. take the processor's certificate from the cache, or fetch /discovery of the processor and the
 *     processor_certificate it names (whose domain must be the processor's, §6.3), and cache it;
 *  3. check the certificate: within its validity, issued by a trusted CA, the domain in its SAN → 401;
 *  4. verify X-OpenDSR-Signature (base64) over the raw body, SHA-256, with the certificate's public
 *     key, before parsing anything → 403 (§8.8 step 5; the guidelines say 400);
 *  5. parse the JSON → 400 when it is not;
 *  6. the status_callback_url must be this endpoint's own → 400;
 *  then 202 Accepted. Revocation (guidelines 2.iv) is not checked: the test CA publishes no CRL.
 */
export interface ReceiverOptions {
  /** The processors whose callbacks are accepted: domain → the base URL of its OpenDSR API (where /discovery is). */
  processors: Map<string, string>
  /** The CA certificates trusted to issue processor certificates. */
  trusted: X509Certificate[]
  /** How the receiver reaches a processor (discovery, certificate): GET of a URL, answered with its status and text. */
  get: (url: string) => Promise<{ status: number, body: string }>
}

export interface Verdict { status: number, reason: string, body?: Record<string, unknown> }

/** The first certificate of a PEM chain. */
function leafOf (pem: string): X509Certificate {
  const first = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)
  if (!first) throw new Error('no certificate in the PEM')
  return new X509Certificate(first[0])
}

export function createVerifier (opts: ReceiverOptions) {
  const cache = new Map<string, X509Certificate>()
  const header = (h: IncomingHttpHeaders, name: string) => {
    const v = h[`x-opendsr-${name}`] ?? h[`x-opengdpr-${name}`]
    return typeof v === 'string' ? v : undefined
  }

  async function certificateOf (domain: string): Promise<X509Certificate | string> {
    const cached = cache.get(domain)
    if (cached) return cached
    const base = opts.processors.get(domain)!
    const discovery = await opts.get(`${base}/discovery`)
    if (discovery.status !== 200) return `discovery answered ${discovery.status}`
    const url = new URL((JSON.parse(discovery.body) as { processor_certificate: string }).processor_certificate)
    if (url.hostname !== domain) return 'processor_certificate is not on the processor domain'
    const cert = await opts.get(url.toString())
    if (cert.status !== 200) return `certificate answered ${cert.status}`
    const parsed = leafOf(cert.body)
    cache.set(domain, parsed)
    return parsed
  }

  function certificateProblem (cert: X509Certificate, domain: string, now = Date.now()): string | null {
    if (now < new Date(cert.validFrom).getTime() || now > new Date(cert.validTo).getTime()) return 'certificate outside its validity'
    if (!opts.trusted.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey))) return 'certificate not issued by a trusted CA'
    if (cert.checkHost(domain) === undefined) return 'processor domain not in the certificate'
    return null
  }

  /** Steps 1 to 4: whether the signed bytes come from an allowed processor; for callbacks and signed answers alike. */
  async function authenticate (headers: IncomingHttpHeaders, raw: Buffer): Promise<Verdict | null> {
    const domain = header(headers, 'processor-domain')
    if (!domain || !opts.processors.has(domain)) return { status: 401, reason: 'processor domain not allowed' }
    const cert = await certificateOf(domain)
    if (typeof cert === 'string') return { status: 401, reason: cert }
    const problem = certificateProblem(cert, domain)
    if (problem) return { status: 401, reason: problem }
    const signature = header(headers, 'signature')
    if (!signature || !verify('sha256', raw, cert.publicKey, Buffer.from(signature, 'base64'))) return { status: 403, reason: 'signature does not verify' }
    return null
  }

  return {
    authenticate,
    /** Every step, for a callback POSTed to `ownUrl`. */
    async judge (headers: IncomingHttpHeaders, raw: Buffer, ownUrl: string): Promise<Verdict> {
      const refused = await authenticate(headers, raw)
      if (refused) return refused
      let body: Record<string, unknown>
      try {
        body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>
      } catch {
        return { status: 400, reason: 'not JSON' }
      }
      if (body.status_callback_url !== ownUrl) return { status: 400, reason: 'status_callback_url is not this endpoint' }
      return { status: 202, reason: 'accepted', body }
    }
  }
}

export interface Received { headers: IncomingHttpHeaders, raw: Buffer, verdict: Verdict }

/** The verifier behind an HTTP endpoint on 127.0.0.1 (path /opendsr/callbacks), keeping every callback and its verdict. */
export async function startReceiver (opts: ReceiverOptions) {
  const verifier = createVerifier(opts)
  const received: Received[] = []
  let ownUrl = ''
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const raw = Buffer.concat(chunks)
      verifier.judge(req.headers, raw, ownUrl)
        .catch((err: unknown) => ({ status: 500, reason: String(err) }))
        .then((verdict) => {
          received.push({ headers: req.headers, raw, verdict })
          res.writeHead(verdict.status, { 'content-type': 'application/json' }).end(JSON.stringify({ reason: verdict.reason }))
        }, () => {})
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  ownUrl = `http://127.0.0.1:${port}/opendsr/callbacks`
  return {
    origin: `http://127.0.0.1:${port}`,
    url: ownUrl,
    received,
    verifier,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) })
  }
}
