import t from 'tap'
import { callbackSigningKeys, loadConfig } from '../../src/config.js'
import { callbackSettings, callbackUrlRefusal } from '../../src/callbacks/settings.js'

const SECRET = 'a-callback-secret-of-at-least-32-chars'

t.test('CALLBACK_SIGNING_KEYS: kid:secret pairs, the first signs; a bad value is named, never shown', async (t) => {
  t.strictSame(callbackSigningKeys(`k2:${SECRET}, k1:${SECRET}x`), [{ kid: 'k2', secret: SECRET }, { kid: 'k1', secret: `${SECRET}x` }])
  for (const bad of ['k1:too-short', `:${SECRET}`, SECRET, `k1:${SECRET},k1:${SECRET}`, `k 1:${SECRET}`]) {
    t.equal(callbackSigningKeys(bad), null, bad)
  }
  const short = 'short-secret-value'
  t.throws(() => loadConfig({ CALLBACK_SIGNING_KEYS: `k1:${short}` }), { name: 'ConfigError', message: /CALLBACK_SIGNING_KEYS: must be kid:secret pairs/ })
  try {
    loadConfig({ CALLBACK_SIGNING_KEYS: `k1:${short}` })
  } catch (err) {
    t.notOk((err as Error).message.includes(short), 'the secret is not echoed')
  }
  t.throws(() => loadConfig({ CALLBACK_ALLOWLIST: 'https://hooks.example' }), { message: /CALLBACK_SIGNING_KEYS: required with CALLBACK_ALLOWLIST/ })
})

t.test('CALLBACK_ALLOWLIST decides at intake whether a callback_url could ever be called', async (t) => {
  const settings = callbackSettings(loadConfig({ CALLBACK_ALLOWLIST: 'https://hooks.example,*.partner.example', CALLBACK_SIGNING_KEYS: `k1:${SECRET}` }))
  t.equal(callbackUrlRefusal(settings, 'https://hooks.example/dsr'), null)
  t.equal(callbackUrlRefusal(settings, 'https://api.partner.example/cb'), null)
  t.match(callbackUrlRefusal(settings, 'https://hooks.example:8443/dsr'), /not in CALLBACK_ALLOWLIST/, 'the port must match')
  t.match(callbackUrlRefusal(settings, 'http://hooks.example/dsr'), /not in CALLBACK_ALLOWLIST/, 'the scheme must match')
  t.match(callbackUrlRefusal(settings, 'https://user:pw@hooks.example/dsr'), /credentials/)
  t.match(callbackUrlRefusal(callbackSettings(loadConfig({})), 'https://hooks.example/dsr'), /no CALLBACK_ALLOWLIST/)
  t.throws(() => callbackSettings(loadConfig({ CALLBACK_ALLOWLIST: 'http://hooks.example', CALLBACK_SIGNING_KEYS: `k1:${SECRET}` })),
    { name: 'ConfigError', message: /CALLBACK_ALLOWLIST entry "http:\/\/hooks.example"/ })
})
