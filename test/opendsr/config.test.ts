import t from 'tap'
import { ConfigError, loadConfig } from '../../src/config.js'
import { redactSecrets } from '../../src/config-secrets.js'
import { createLocalCa, keyPem, oneLine } from './local-ca.js'

/** The OPENDSR_* settings: all three or none, a CA-issued certificate for the domain, and its own key; the key never shown. */

const DOMAIN = 'opendsr.processor.test'
const ca = createLocalCa()
const leaf = ca.issue(DOMAIN)
const env = (over: Record<string, string> = {}) => ({ OPENDSR_PROCESSOR_DOMAIN: DOMAIN, OPENDSR_CERTIFICATE: leaf.pem, OPENDSR_SIGNING_KEY: keyPem(leaf.key), ...over })
const refusal = (e: Record<string, string>) => {
  try {
    loadConfig(e)
    return null
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    return err.message
  }
}

t.test('a CA-issued certificate for the domain with its key loads, also written on one line', async (t) => {
  t.equal(refusal(env()), null)
  t.equal(refusal(env({ OPENDSR_CERTIFICATE: oneLine(leaf.pem), OPENDSR_SIGNING_KEY: oneLine(keyPem(leaf.key)) })), null)
  t.equal(refusal({}), null, 'none: the facade is simply not served')
})

t.test('refused with a message naming the setting', async (t) => {
  t.match(refusal({ OPENDSR_PROCESSOR_DOMAIN: DOMAIN }), /set all three, or none/)
  const self = ca.issue(DOMAIN, { selfSigned: true })
  t.match(refusal(env({ OPENDSR_CERTIFICATE: self.pem, OPENDSR_SIGNING_KEY: keyPem(self.key) })), /OPENDSR_CERTIFICATE: is self-signed/)
  t.match(refusal(env({ OPENDSR_PROCESSOR_DOMAIN: 'other.processor.test' })), /is not issued to OPENDSR_PROCESSOR_DOMAIN \(other\.processor\.test\)/)
  t.match(refusal(env({ OPENDSR_SIGNING_KEY: keyPem(ca.ca.key) })), /OPENDSR_SIGNING_KEY: is not the private key of OPENDSR_CERTIFICATE/)
  const expired = ca.issue(DOMAIN, { notAfter: new Date(Date.now() - 60_000) })
  t.match(refusal(env({ OPENDSR_CERTIFICATE: expired.pem, OPENDSR_SIGNING_KEY: keyPem(expired.key) })), /OPENDSR_CERTIFICATE: expired/)
  t.match(refusal(env({ OPENDSR_SIGNING_KEY: 'not a key' })), /OPENDSR_SIGNING_KEY: must be a private key in PEM/)
  t.match(refusal(env({ OPENDSR_PROCESSOR_DOMAIN: 'Not A Domain' })), /OPENDSR_PROCESSOR_DOMAIN/)
})

t.test('the signing key is a secret: never in a message', async (t) => {
  const key = keyPem(leaf.key)
  const message = refusal(env({ OPENDSR_CERTIFICATE: 'garbage', OPENDSR_SIGNING_KEY: key }))!
  const body = key.split('\n')[1]!
  t.notOk(message.includes(body), 'the refusal does not echo the key')
  t.notOk(redactSecrets(`boom ${key}`, { OPENDSR_SIGNING_KEY: key }).includes(body), 'redactSecrets masks it')
})
