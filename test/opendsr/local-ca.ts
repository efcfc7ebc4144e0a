import { createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto'

/**
 * A local certificate authority for the OpenDSR tests, made with node:crypto alone: X.509 v3
 * certificates written in DER by hand (RFC 5280), signed sha256WithRSAEncryption. The CA's own
 * certificate is self-signed (a root); a processor's is issued by it for one DNS name.
 */

function len (n: number): Buffer {
  if (n < 0x80) return Buffer.from([n])
  const bytes: number[] = []
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff)
  return Buffer.from([0x80 | bytes.length, ...bytes])
}
const tlv = (tag: number, content: Buffer) => Buffer.concat([Buffer.from([tag]), len(content.length), content])
const seq = (...parts: Buffer[]) => tlv(0x30, Buffer.concat(parts))
const set = (...parts: Buffer[]) => tlv(0x31, Buffer.concat(parts))
const explicit = (n: number, content: Buffer) => tlv(0xa0 | n, content)
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]))
const nul = () => Buffer.from([0x05, 0x00])
const octets = (b: Buffer) => tlv(0x04, b)
const bits = (b: Buffer, unused = 0) => tlv(0x03, Buffer.concat([Buffer.from([unused]), b]))
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'))

function int (value: Buffer | number): Buffer {
  let b = typeof value === 'number' ? Buffer.from([value]) : value
  while (b.length > 1 && b[0] === 0 && (b[1]! & 0x80) === 0) b = b.subarray(1)
  if ((b[0]! & 0x80) !== 0) b = Buffer.concat([Buffer.from([0]), b])
  return tlv(0x02, b)
}

function oid (dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number)
  const out = [a! * 40 + b!]
  for (const n of rest) {
    const chunk: number[] = []
    for (let v = n; ; v = Math.floor(v / 128)) {
      chunk.unshift((v & 0x7f) | (chunk.length > 0 ? 0x80 : 0))
      if (v < 128) break
    }
    out.push(...chunk)
  }
  return tlv(0x06, Buffer.from(out))
}

/** UTCTime, YYMMDDHHMMSSZ (dates before 2050). */
function time (d: Date): Buffer {
  return tlv(0x17, Buffer.from(d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z'))
}

const SHA256_WITH_RSA = seq(oid('1.2.840.113549.1.1.11'), nul())
const name = (cn: string) => seq(set(seq(oid('2.5.4.3'), utf8(cn))))
const extension = (id: string, critical: boolean, value: Buffer) => seq(oid(id), ...(critical ? [bool(true)] : []), octets(value))

export interface Issued { pem: string, key: KeyObject, name: string }

function toPem (der: Buffer): string {
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`
}

function certificate (opts: {
  subject: string, issuer: string, subjectKey: KeyObject, issuerKey: KeyObject, ca: boolean, dns?: string, notBefore: Date, notAfter: Date
}): string {
  const extensions = [
    extension('2.5.29.19', true, opts.ca ? seq(bool(true)) : seq()),
    // keyCertSign + cRLSign for a CA (bits 5, 6); digitalSignature (bit 0) for a signer.
    extension('2.5.29.15', true, opts.ca ? bits(Buffer.from([0x06]), 1) : bits(Buffer.from([0x80]), 7)),
    ...(opts.dns ? [extension('2.5.29.17', false, seq(tlv(0x82, Buffer.from(opts.dns))))] : [])
  ]
  const tbs = seq(
    explicit(0, int(2)),
    int(Buffer.concat([Buffer.from([0x01]), randomBytes(15)])),
    SHA256_WITH_RSA,
    name(opts.issuer),
    seq(time(opts.notBefore), time(opts.notAfter)),
    name(opts.subject),
    createPublicKey(opts.subjectKey).export({ type: 'spki', format: 'der' }),
    explicit(3, seq(...extensions))
  )
  return toPem(seq(tbs, SHA256_WITH_RSA, bits(sign('sha256', tbs, opts.issuerKey))))
}

const rsa = () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey

/** A root CA, and what it issues. */
export function createLocalCa (cn = 'OpenDSR Test Root CA') {
  const key = rsa()
  const now = Date.now()
  const notBefore = new Date(now - 3_600_000)
  const notAfter = new Date(now + 30 * 86_400_000)
  const pem = certificate({ subject: cn, issuer: cn, subjectKey: key, issuerKey: key, ca: true, notBefore, notAfter })
  return {
    ca: { pem, key, name: cn } satisfies Issued,
    /** A signing certificate for `dns`, issued by this CA (or, `selfSigned`, by itself). */
    issue (dns: string, opts: { selfSigned?: boolean, notAfter?: Date } = {}): Issued {
      const leafKey = rsa()
      return {
        key: leafKey,
        name: dns,
        pem: certificate({
          subject: dns,
          issuer: opts.selfSigned ? dns : cn,
          subjectKey: leafKey,
          issuerKey: opts.selfSigned ? leafKey : key,
          ca: false,
          dns,
          notBefore,
          notAfter: opts.notAfter ?? notAfter
        })
      }
    }
  }
}

/** A private key as PKCS#8 PEM with its line breaks written as \n: one line, as an environment variable holds it. */
export function oneLine (pem: string): string {
  return pem.trim().replaceAll('\n', '\\n')
}

export function keyPem (key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString()
}
