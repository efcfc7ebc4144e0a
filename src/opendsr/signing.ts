import { createPrivateKey, sign, X509Certificate, type KeyObject } from 'node:crypto'

/**
 * How OpenDSR answers and callbacks are signed (§4, §7.3, §8.3, §8.6): a signature over the exact
 * bytes of the body, SHA-256 digest, with the private key of an X.509 certificate issued to the
 * processor's domain by a certificate authority (never self-signed, §4.1), in base64, sent as
 * X-OpenDSR-Signature beside X-OpenDSR-Processor-Domain. The certificate is published at the URL
 * discovery names (§6.3), so a controller can fetch it and verify.
 */
export interface OpenDsrSigner {
  /** The domain the certificate is issued to: X-OpenDSR-Processor-Domain. */
  domain: string
  /** The certificate, and any intermediates after it, as PEM: what processor_certificate serves. */
  certificatePem: string
  /** Base64 signature of `body` (RSA PKCS#1 v1.5 or ECDSA, SHA-256: FIPS 186-4 algorithms). */
  sign (body: string | Buffer): string
}

export interface OpenDsrSettingsInput {
  OPENDSR_PROCESSOR_DOMAIN?: string | undefined
  OPENDSR_CERTIFICATE?: string | undefined
  OPENDSR_SIGNING_KEY?: string | undefined
}

/** The PEM blocks of a value as configuration gives it (line breaks may be written as \n). */
function pem (value: string): string {
  return value.trim().replaceAll('\\n', '\n')
}

/**
 * The signer the three OPENDSR_* settings make, or the problems with them (each naming its setting,
 * never showing the key). None set: `{ signer: null }`: the facade is not served.
 */
export function openDsrSigner (config: OpenDsrSettingsInput, now: Date = new Date()): { signer: OpenDsrSigner | null, problems: string[] } {
  const { OPENDSR_PROCESSOR_DOMAIN: domain, OPENDSR_CERTIFICATE: certValue, OPENDSR_SIGNING_KEY: keyValue } = config
  if (domain === undefined && certValue === undefined && keyValue === undefined) return { signer: null, problems: [] }
  if (domain === undefined || certValue === undefined || keyValue === undefined) {
    return { signer: null, problems: ['OPENDSR_PROCESSOR_DOMAIN, OPENDSR_CERTIFICATE and OPENDSR_SIGNING_KEY: set all three, or none'] }
  }
  const problems: string[] = []
  let key: KeyObject | null = null
  try {
    key = createPrivateKey({ key: pem(keyValue), format: 'pem' })
  } catch {
    problems.push('OPENDSR_SIGNING_KEY: must be a private key in PEM (PKCS#8 or PKCS#1), line breaks may be written as \\n')
  }
  if (key && !(key.asymmetricKeyType === 'rsa' ? (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048 : key.asymmetricKeyType === 'ec')) {
    problems.push('OPENDSR_SIGNING_KEY: must be an RSA key of at least 2048 bits or an EC key (FIPS 186-4 signatures)')
    key = null
  }
  const certificatePem = pem(certValue)
  let cert: X509Certificate | null = null
  try {
    cert = new X509Certificate(certificatePem)
  } catch {
    problems.push('OPENDSR_CERTIFICATE: must be an X.509 certificate in PEM (the signing certificate first, then any intermediates)')
  }
  if (cert) {
    if (cert.verify(cert.publicKey)) problems.push('OPENDSR_CERTIFICATE: is self-signed; OpenDSR §4.1 requires one issued by a certificate authority')
    if (cert.checkHost(domain) === undefined) problems.push(`OPENDSR_CERTIFICATE: is not issued to OPENDSR_PROCESSOR_DOMAIN (${domain}): its subject alternative names must hold it`)
    if (new Date(cert.validTo).getTime() <= now.getTime()) problems.push(`OPENDSR_CERTIFICATE: expired on ${new Date(cert.validTo).toISOString()}`)
    if (key && !cert.checkPrivateKey(key)) problems.push('OPENDSR_SIGNING_KEY: is not the private key of OPENDSR_CERTIFICATE')
  }
  if (problems.length > 0 || !key) return { signer: null, problems }
  const signingKey = key
  return {
    signer: {
      domain,
      certificatePem: certificatePem.endsWith('\n') ? certificatePem : `${certificatePem}\n`,
      sign: (body) => sign('sha256', typeof body === 'string' ? Buffer.from(body) : body, signingKey).toString('base64')
    },
    problems: []
  }
}
