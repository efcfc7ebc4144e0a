import { X509Certificate } from 'node:crypto'
import t, { type Test } from 'tap'
import { sql } from 'drizzle-orm'
import { auth, build, registryOf, testDb, testKeys, waitFor } from '../helper.js'
import { hashKey } from '../../src/services/api-keys.js'
import type { HostResolver } from '../../src/transfers/addresses.js'
import * as spec from '../fixtures/opendsr-spec-examples.js'
import { createLocalCa, keyPem } from './local-ca.js'
import { startReceiver } from './receiver.js'

/**
 * The OpenDSR facade against the specification's own example payloads (test/fixtures), through the
 * real app, its engine and Postgres: the examples accepted and mapped onto the service's requests,
 * their status read back in OpenDSR form, every answer and callback signed with a certificate a
 * local CA made here issued, and the callbacks checked by a receiver written from the spec's rules
 * (receiver.ts), which also refuses a tampered one.
 */

const DOMAIN = 'opendsr.processor.test'
const BASE = `https://${DOMAIN}/opendsr/v2`
const GRACE = 'grace.opendsr@example.com'
const CONTROLLERS = {
  acme: 'opendsr-controller-acme-0000000000000',
  globex: 'opendsr-controller-globex-000000000000',
  initech: 'opendsr-controller-initech-00000000000'
} as const
const as = (who: keyof typeof CONTROLLERS) => ({ authorization: `Bearer ${CONTROLLERS[who]}` })
const JSON_TYPE = { 'content-type': 'application/json' }
/** The spec's §7.2 example as it means it: one edit, the trailing comma after "property_id" removed. */
const REQUEST_WITHOUT_COMMA = spec.REQUEST.replace('"property_id": "123456",\n', '"property_id": "123456"\n')
const V1_REQUEST_WITHOUT_COMMA = spec.V1_REQUEST.replace('"property_id": "123456",\n', '"property_id": "123456"\n')

const keysOf = (text: string) => Object.keys(JSON.parse(text) as object).sort()

for (const embedded of [false, true]) {
  t.test(`OpenDSR facade (${embedded ? 'embedded' : 'Postgres'}): the spec examples, signed answers, callbacks verified by a receiver from the spec`, async (t: Test) => {
    const ca = createLocalCa()
    const leaf = ca.issue(DOMAIN)
    const apiKeys = testKeys()
    for (const [name, key] of Object.entries(CONTROLLERS)) apiKeys.set(hashKey(key), { name, scopes: ['requests:write', 'requests:read'] })
    const registry = await registryOf([{
      id: 'crm', driver: 'memory', settings: { streams: [{ name: 'contacts', match: { email: 'email' }, records: [{ id: 1, email: GRACE }] }] }
    }])
    // The example controllers' hosts do not resolve here; the receiver is an IP literal.
    const resolveHost: HostResolver = async (host) => {
      if (host === '127.0.0.1') return [{ address: '127.0.0.1', family: 4 }]
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' })
    }
    // The receiver is made before the app, which it calls back.
    const holder: { app?: Awaited<ReturnType<typeof build>> } = {}
    const receiver = await startReceiver({
      processors: new Map([[DOMAIN, BASE]]),
      trusted: [new X509Certificate(ca.ca.pem)],
      // The receiver reaches the processor's https URLs; here they are answered by the app itself.
      async get (url) {
        const u = new URL(url)
        if (u.hostname !== DOMAIN) throw new Error(`unexpected host ${u.hostname}`)
        const res = await holder.app!.inject({ method: 'GET', url: u.pathname })
        return { status: res.statusCode, body: res.body }
      }
    })
    t.teardown(receiver.close)
    const app = await build(t, {
      dbh: await testDb(t, { embedded }),
      apiKeys,
      registry,
      resolveHost,
      env: {
        OPENDSR_PROCESSOR_DOMAIN: DOMAIN,
        OPENDSR_CERTIFICATE: leaf.pem,
        OPENDSR_SIGNING_KEY: keyPem(leaf.key),
        CALLBACK_ALLOWLIST: `${receiver.origin},https://examplecontroller.com,https://example-controller.com`,
        CALLBACK_SIGNING_KEYS: 'k1:opendsr-test-callback-secret-000000000000',
        CALLBACK_RETRY_BASE_MS: '100',
        CALLBACK_RETRY_MAX_MS: '400',
        // The examples were submitted in 2018: the operator lets requests that old in.
        RECEIVED_AT_EARLIEST: '2018-01-01',
        // Erasure waits for approval: pending, so that a controller can still cancel it (§9).
        APPROVAL_REQUIRED: 'erasure',
        TASK_POLL_SECONDS: '0.5'
      }
    })
    holder.app = app
    const signedBy = async (res: { headers: Record<string, unknown>, rawPayload: Buffer }) =>
      (await receiver.verifier.authenticate(res.headers as never, res.rawPayload)) ?? { status: 200, reason: 'verified' }
    const serviceRequestOf = async (controller: string, subjectRequestId: string) => {
      const [row] = await app.dbh.rows<{ request_id: string }>(sql`select request_id from opendsr_requests where controller_id = ${controller} and subject_request_id = ${subjectRequestId}`)
      const res = await app.inject({ method: 'GET', url: `/v1/requests/${row!.request_id}`, headers: auth('admin') })
      return res.json()
    }

    await t.test('discovery has the fields of the §6.4 example, lists what intake accepts, and names the certificate', async (t) => {
      const res = await app.inject({ method: 'GET', url: '/opendsr/v2/discovery' })
      t.equal(res.statusCode, 200)
      t.strictSame(keysOf(res.body), keysOf(spec.DISCOVERY_RESPONSE), 'the same fields as the spec example')
      const body = res.json()
      t.equal(body.api_version, '2.0')
      t.strictSame(body.supported_subject_request_types, ['access', 'portability', 'erasure'])
      for (const pair of (JSON.parse(spec.DISCOVERY_RESPONSE) as { supported_identities: unknown[] }).supported_identities) {
        t.ok(body.supported_identities.some((p: unknown) => JSON.stringify(p) === JSON.stringify(pair)), `the example's ${JSON.stringify(pair)} is supported`)
      }
      t.notOk(body.supported_identities.some((p: { identity_format: string }) => p.identity_format === 'md5'), 'no MD5 of anything: no connector matches one')
      t.equal(body.processor_certificate, `${BASE}/certificate.pem`)
      const cert = await app.inject({ method: 'GET', url: new URL(body.processor_certificate as string).pathname })
      t.equal(cert.statusCode, 200)
      t.equal(cert.body, leaf.pem, 'the certificate the CA issued')
      t.match(await signedBy(res), { status: 200 }, 'discovery itself is signed')
      const v1 = await app.inject({ method: 'GET', url: '/opendsr/v1/discovery' })
      t.equal(v1.json().api_version, '1.0')
      t.ok(v1.headers['x-opengdpr-signature'], 'v1 names: X-OpenGDPR-Signature')
    })

    await t.test('the §7.2 example verbatim is not JSON (its trailing comma): 400 with the §7.6 error object', async (t) => {
      const res = await app.inject({ method: 'POST', url: '/opendsr/v2/requests', headers: { ...as('acme'), ...JSON_TYPE }, payload: spec.REQUEST })
      t.equal(res.statusCode, 400)
      const body = res.json()
      t.equal(body.code, 'DSR_INVALID_JSON')
      t.strictSame(Object.keys(body.error).sort(), Object.keys((JSON.parse(spec.ERROR_RESPONSE) as { error: object }).error).sort(), 'the error object of the §7.7 example')
      t.match(body.error, { code: 400, errors: [{ reason: 'DSR_INVALID_JSON' }] })
      t.match(await signedBy(res), { status: 200 }, 'errors are signed too')
    })

    await t.test('§7.2 without its comma is a 2.0 request without regulation: refused; with one, accepted', async (t) => {
      const v2 = await app.inject({ method: 'POST', url: '/opendsr/v2/requests', headers: { ...as('initech'), ...JSON_TYPE }, payload: REQUEST_WITHOUT_COMMA })
      t.equal(v2.statusCode, 400)
      t.match(v2.json(), { code: 'DSR_VALIDATION_FAILED', details: [{ field: '/regulation' }] }, 'regulation is REQUIRED in 2.0 (§7.1.1)')
      const v1 = await app.inject({ method: 'POST', url: '/opendsr/v1/opengdpr_requests', headers: { ...as('initech'), ...JSON_TYPE }, payload: REQUEST_WITHOUT_COMMA })
      t.match(v1.json(), { code: 'DSR_VALIDATION_FAILED', details: [{ field: '/api_version' }] }, 'nor is it a 1.x request for the v1 names')

      const withRegulation = REQUEST_WITHOUT_COMMA.replace('{\n', '{\n  "regulation": "gdpr",\n')
      const res = await app.inject({ method: 'POST', url: '/opendsr/v2/requests', headers: { ...as('initech'), ...JSON_TYPE }, payload: withRegulation })
      t.equal(res.statusCode, 201, 'created')
      t.strictSame(keysOf(res.body), keysOf(spec.CREATED_RESPONSE), 'the fields of the §7.4 example')
      t.equal(res.headers['x-opendsr-processor-domain'], DOMAIN)
      t.match(await signedBy(res), { status: 200 }, 'the answer verifies')
      t.match(await serviceRequestOf('initech', 'a7551968-d5d6-44b2-9831-815ac9017798'), { type: 'erasure', regime: 'gdpr', subject: { email: 'johndoe@example.com' } })
    })

    await t.test('the OpenGDPR 1.0 example (the same comma removed) on the v1 names: GDPR, signed X-OpenGDPR', async (t) => {
      const v1 = await app.inject({ method: 'POST', url: '/opendsr/v1/opengdpr_requests', headers: { ...as('acme'), ...JSON_TYPE }, payload: V1_REQUEST_WITHOUT_COMMA })
      t.equal(v1.statusCode, 201, 'created')
      t.strictSame(keysOf(v1.body), keysOf(spec.CREATED_RESPONSE), 'the fields of the §7.4 example')
      const created = v1.json()
      t.equal(created.controller_id, 'acme')
      t.equal(created.subject_request_id, 'a7551968-d5d6-44b2-9831-815ac9017798')
      t.equal(Buffer.from(created.encoded_request as string, 'base64').toString(), V1_REQUEST_WITHOUT_COMMA, 'encoded_request: the body as sent')
      t.ok(v1.headers['x-opengdpr-signature'] && !v1.headers['x-opendsr-signature'], 'v1 headers')
      t.equal(v1.headers['x-opengdpr-processor-domain'], DOMAIN)
      t.match(await signedBy(v1), { status: 200 }, 'the answer verifies')

      const request = await serviceRequestOf('acme', created.subject_request_id)
      t.match(request, { type: 'erasure', regime: 'gdpr', subject: { email: 'johndoe@example.com' }, received_at: '2018-10-02T15:00:00.000Z', status: 'awaiting_approval' })
      t.equal(created.expected_completion_time, request.effective_due_at, 'expected_completion_time: the deadline')

      const again = await app.inject({ method: 'POST', url: '/opendsr/v1/opengdpr_requests', headers: { ...as('acme'), ...JSON_TYPE }, payload: V1_REQUEST_WITHOUT_COMMA })
      t.equal(again.statusCode, 201, 'the same request again')
      t.equal(again.json().received_time, created.received_time, 'answered as before')
      const other = await app.inject({
        method: 'POST', url: '/opendsr/v1/opengdpr_requests', headers: { ...as('acme'), ...JSON_TYPE }, payload: V1_REQUEST_WITHOUT_COMMA.replace('"erasure"', '"access"')
      })
      t.equal(other.statusCode, 409)
      t.equal(other.json().code, 'DSR_OPENDSR_REQUEST_ID_REUSED')
    })

    await t.test('the README sample (2.0, with regulation) is accepted as is and read back in OpenDSR form', async (t) => {
      const res = await app.inject({ method: 'POST', url: '/opendsr/v2/requests', headers: { ...as('globex'), ...JSON_TYPE }, payload: spec.README_SAMPLE_REQUEST })
      t.equal(res.statusCode, 201, 'created')
      t.match(await signedBy(res), { status: 200 })
      const request = await serviceRequestOf('globex', 'a7551968-d5d6-44b2-9831-815ac9017798')
      t.match(request, { type: 'erasure', regime: 'gdpr', subject: { email: 'johndoe@example.com' }, status: 'awaiting_approval' })

      const status = await app.inject({ method: 'GET', url: '/opendsr/v2/requests/a7551968-d5d6-44b2-9831-815ac9017798', headers: as('globex') })
      t.equal(status.statusCode, 200)
      const example = JSON.parse(spec.STATUS_RESPONSE) as Record<string, unknown>
      const optional = ['results_url', 'results_count']
      t.strictSame(keysOf(status.body), Object.keys(example).filter((k) => !optional.includes(k)).sort(), 'the §8.4 example\'s fields (results_* are optional)')
      t.match(status.json(), { controller_id: 'globex', request_status: 'pending', api_version: '2.0', expected_completion_time: request.effective_due_at })
      t.match(await signedBy(status), { status: 200 }, 'the status answer verifies')

      // The same subject_request_id is another controller's request: each sees its own.
      const acme = await app.inject({ method: 'GET', url: '/opendsr/v1/opengdpr_requests/a7551968-d5d6-44b2-9831-815ac9017798', headers: as('acme') })
      t.equal(acme.json().controller_id, 'acme')
      const unknown = await app.inject({ method: 'GET', url: '/opendsr/v2/requests/00000000-0000-4000-8000-000000000000', headers: as('globex') })
      t.equal(unknown.statusCode, 404)
      t.equal(unknown.json().code, 'DSR_OPENDSR_REQUEST_NOT_FOUND')
    })

    await t.test('identities: hashed e-mail and device ids mapped; what no connector matches refused, never ignored', async (t) => {
      const post = (identities: unknown[], id: string, extra: Record<string, unknown> = {}) => app.inject({
        method: 'POST',
        url: '/opendsr/v2/requests',
        headers: { ...as('acme'), ...JSON_TYPE },
        payload: { ...JSON.parse(spec.README_SAMPLE_REQUEST) as object, subject_request_id: id, subject_request_type: 'access', status_callback_urls: [], subject_identities: identities, ...extra }
      })
      const hash = 'B4C9A289323B21A01C3E940F150EB9B8C542587F1ABFD8F0E1CC1FFC5E475514'
      const ok = await post([
        { identity_type: 'email', identity_value: hash, identity_format: 'sha256' },
        { identity_type: 'ios_advertising_id', identity_value: '6D92078A-8246-4BA4-AE5B-76104861E7DC', identity_format: 'raw' },
        { identity_type: 'controller_customer_id', identity_value: 'C-1001', identity_format: 'raw' }
      ], '1b7b0a4e-77e6-4c43-9a55-0a4c4f3e2d11')
      t.equal(ok.statusCode, 201, 'created')
      t.match(await serviceRequestOf('acme', '1b7b0a4e-77e6-4c43-9a55-0a4c4f3e2d11'), {
        type: 'access',
        subject: { email_sha256: hash.toLowerCase(), customer_id: 'C-1001', external_ids: [{ system: 'ios_advertising_id', id: '6D92078A-8246-4BA4-AE5B-76104861E7DC' }] }
      })
      const md5 = await post([{ identity_type: 'email', identity_value: '2f0b1c0e2c8a5f1f0e1a0f0f0e1a0f0f', identity_format: 'md5' }], '2c8d1b5f-88f7-4d54-8b66-1b5d5f4f3e22')
      t.equal(md5.statusCode, 400)
      t.match(md5.json(), { code: 'DSR_OPENDSR_IDENTITY_UNSUPPORTED', error: { code: 400, errors: [{ reason: 'DSR_OPENDSR_IDENTITY_UNSUPPORTED' }] } })
      const hashedDevice = await post([{ identity_type: 'android_advertising_id', identity_value: hash, identity_format: 'sha256' }], '3d9e2c6a-99a8-4e65-9c77-2c6e6a5a4f33')
      t.equal(hashedDevice.json().code, 'DSR_OPENDSR_IDENTITY_UNSUPPORTED')
      const badEmail = await post([{ identity_type: 'email', identity_value: 'not-an-address', identity_format: 'raw' }], '4e0f3d7b-aab9-4f76-8d88-3d7f7b6b5a44')
      t.match(badEmail.json(), { code: 'DSR_VALIDATION_FAILED', details: [{ field: '/subject_identities/0/identity_value' }] })
      const ours = await post([{ identity_type: 'email', identity_value: GRACE, identity_format: 'raw' }], '5f1a4e8c-bbca-4a87-9e99-4e8a8c7c6b55', { extensions: { [DOMAIN]: { x: 1 } } })
      t.match(ours.json(), { code: 'DSR_VALIDATION_FAILED', details: [{ field: `/extensions/${DOMAIN}` }] }, 'an extension for this processor: it defines none')
      const outside = await post([{ identity_type: 'email', identity_value: GRACE, identity_format: 'raw' }], '6a2b5f9d-ccdb-4b98-8faa-5f9b9d8d7c66', { status_callback_urls: ['https://elsewhere.example/cb'] })
      t.equal(outside.statusCode, 422)
      t.equal(outside.json().code, 'DSR_CALLBACK_URL_NOT_ALLOWED')
      const [{ n }] = await app.dbh.rows<{ n: number }>(sql`select count(*)::int as n from opendsr_requests where subject_request_id in (
      '2c8d1b5f-88f7-4d54-8b66-1b5d5f4f3e22', '3d9e2c6a-99a8-4e65-9c77-2c6e6a5a4f33', '4e0f3d7b-aab9-4f76-8d88-3d7f7b6b5a44', '5f1a4e8c-bbca-4a87-9e99-4e8a8c7c6b55', '6a2b5f9d-ccdb-4b98-8faa-5f9b9d8d7c66')`) as [{ n: number }]
      t.equal(n, 0, 'nothing refused was stored')
    })

    await t.test('callbacks: signed, verified by the receiver from the spec; a tampered one refused', async (t) => {
      const id = '7b3c6a0e-ddec-4ca9-90bb-6a0c0e9e8d77'
      const res = await app.inject({
        method: 'POST',
        url: '/opendsr/v2/requests',
        headers: { ...as('acme'), ...JSON_TYPE },
        payload: {
          regulation: 'gdpr',
          subject_request_id: id,
          subject_request_type: 'access',
          submitted_time: new Date().toISOString(),
          subject_identities: [{ identity_type: 'email', identity_value: GRACE, identity_format: 'raw' }],
          api_version: '2.0',
          status_callback_urls: [receiver.url]
        }
      })
      t.equal(res.statusCode, 201, 'created')
      const ours = () => receiver.received.filter((r) => r.raw.toString().includes(id))
      await waitFor(async () => ours().some((r) => r.verdict.body?.request_status === 'completed'), 30_000, 'the completed callback')
      const callbacks = ours()
      t.ok(callbacks.every((c) => c.verdict.status === 202), `every callback verified: ${callbacks.map((c) => c.verdict.reason).join(', ')}`)
      t.strictSame(callbacks.map((c) => c.verdict.body!.request_status), ['in_progress', 'completed'].slice(-callbacks.length), 'in order, one per change')
      const example = JSON.parse(spec.CALLBACK) as Record<string, unknown>
      t.strictSame(Object.keys(callbacks[0]!.verdict.body!).sort(), Object.keys(example).filter((k) => !k.startsWith('results_')).sort(), 'the §8.7 example\'s fields')
      t.match(callbacks.at(-1)!.verdict.body, { controller_id: 'acme', subject_request_id: id, status_callback_url: receiver.url })
      t.equal(callbacks[0]!.headers['x-opendsr-processor-domain'], DOMAIN)

      const status = await app.inject({ method: 'GET', url: `/opendsr/v2/requests/${id}`, headers: as('acme') })
      t.equal(status.json().request_status, 'completed', 'read back completed')

      // The last callback sent again with one byte of its body changed, and with its signature intact.
      const last = callbacks.at(-1)!
      const send = (body: Buffer, headers: Record<string, string>) => fetch(receiver.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body })
      const signedHeaders = { 'x-opendsr-processor-domain': DOMAIN, 'x-opendsr-signature': String(last.headers['x-opendsr-signature']) }
      t.equal((await send(last.raw, signedHeaders)).status, 202, 'the callback as sent verifies (the check can pass)')
      const tampered = Buffer.from(last.raw.toString().replace('"completed"', '"cancelled"'))
      t.not(tampered.toString(), last.raw.toString())
      t.equal((await send(tampered, signedHeaders)).status, 403, 'a tampered body: 403 (§8.8)')
      t.equal((await send(last.raw, { ...signedHeaders, 'x-opendsr-processor-domain': 'evil.processor.test' })).status, 401, 'another domain: 401')
      // Signed by a certificate for the same domain that the trusted CA did not issue.
      const rogue = createLocalCa('Rogue CA').issue(DOMAIN)
      const { createVerifier } = await import('./receiver.js')
      const rogueVerifier = createVerifier({
        processors: new Map([[DOMAIN, BASE]]),
        trusted: [new X509Certificate(ca.ca.pem)],
        get: async (url) => url.endsWith('/discovery') ? { status: 200, body: JSON.stringify({ processor_certificate: `${BASE}/certificate.pem` }) } : { status: 200, body: rogue.pem }
      })
      t.match(await rogueVerifier.authenticate(signedHeaders, last.raw), { status: 401, reason: 'certificate not issued by a trusted CA' }, 'a certificate the trusted CA did not issue: 401')
    })

    await t.test('DELETE cancels a pending request (§9), read back cancelled; in progress or closed it is refused', async (t) => {
      const del = await app.inject({ method: 'DELETE', url: '/opendsr/v2/requests/a7551968-d5d6-44b2-9831-815ac9017798', headers: as('globex') })
      t.equal(del.statusCode, 202, 'accepted')
      t.strictSame(keysOf(del.body), keysOf(spec.CANCEL_RESPONSE), 'the fields of the §9.3 example')
      t.match(del.json(), { controller_id: 'globex', subject_request_id: 'a7551968-d5d6-44b2-9831-815ac9017798', api_version: '2.0' })
      t.match(await signedBy(del), { status: 200 })
      const status = await app.inject({ method: 'GET', url: '/opendsr/v2/requests/a7551968-d5d6-44b2-9831-815ac9017798', headers: as('globex') })
      t.equal(status.json().request_status, 'cancelled')
      t.equal((await serviceRequestOf('globex', 'a7551968-d5d6-44b2-9831-815ac9017798')).status, 'cancelled', "the service's request is cancelled")
      t.equal((await serviceRequestOf('acme', 'a7551968-d5d6-44b2-9831-815ac9017798')).status, 'awaiting_approval', "acme's request of the same id is untouched")
      const [queued] = await app.dbh.rows<{ request_status: string, url: string }>(sql`
      select c.request_status, c.url from opendsr_callbacks c join opendsr_requests l on l.id = c.opendsr_request_id
      where l.controller_id = 'globex' order by c.created_at desc limit 1`)
      t.match(queued, { request_status: 'cancelled', url: 'https://example-controller.com/opendsr/callbacks' }, 'its callback is queued to the example controller')

      const again = await app.inject({ method: 'DELETE', url: '/opendsr/v2/requests/a7551968-d5d6-44b2-9831-815ac9017798', headers: as('globex') })
      t.equal(again.statusCode, 409)
      t.equal(again.json().code, 'DSR_OPENDSR_NOT_CANCELLABLE')
      const done = await app.inject({ method: 'DELETE', url: '/opendsr/v2/requests/7b3c6a0e-ddec-4ca9-90bb-6a0c0e9e8d77', headers: as('acme') })
      t.equal(done.json().code, 'DSR_OPENDSR_NOT_CANCELLABLE', 'a completed request')
    })
  })
}

t.test('without a certificate and key the facade says so: 404 DSR_OPENDSR_NOT_CONFIGURED, after validation', async (t) => {
  const app = await build(t)
  const discovery = await app.inject({ method: 'GET', url: '/opendsr/v2/discovery' })
  t.equal(discovery.statusCode, 404)
  t.equal(discovery.json().code, 'DSR_OPENDSR_NOT_CONFIGURED')
  t.notOk(discovery.headers['x-opendsr-signature'], 'nothing to sign with')
  const post = await app.inject({ method: 'POST', url: '/opendsr/v2/requests', headers: { ...auth('writer'), ...JSON_TYPE }, payload: spec.README_SAMPLE_REQUEST })
  t.equal(post.json().code, 'DSR_OPENDSR_NOT_CONFIGURED')
  const bad = await app.inject({ method: 'POST', url: '/opendsr/v2/requests', headers: { ...auth('writer'), ...JSON_TYPE }, payload: { regulation: 'gdpr' } })
  t.equal(bad.json().code, 'DSR_VALIDATION_FAILED', 'malformed input is still refused as such')
  t.equal((await app.inject({ method: 'GET', url: '/opendsr/v2/certificate.pem' })).statusCode, 404)
})

t.test('DUPLICATE_POLICY merge: one controller cannot cancel what another asked for through the same request', async (t) => {
  const ca = createLocalCa()
  const leaf = ca.issue(DOMAIN)
  const apiKeys = testKeys()
  for (const [name, key] of Object.entries(CONTROLLERS)) apiKeys.set(hashKey(key), { name, scopes: ['requests:write', 'requests:read'] })
  const app = await build(t, {
    apiKeys,
    env: {
      OPENDSR_PROCESSOR_DOMAIN: DOMAIN,
      OPENDSR_CERTIFICATE: leaf.pem,
      OPENDSR_SIGNING_KEY: keyPem(leaf.key),
      DUPLICATE_POLICY: 'merge',
      APPROVAL_REQUIRED: 'erasure'
    }
  })
  const body = (id: string) => ({
    regulation: 'gdpr',
    subject_request_id: id,
    subject_request_type: 'erasure',
    submitted_time: new Date().toISOString(),
    subject_identities: [{ identity_type: 'email', identity_value: 'shared.opendsr@example.com', identity_format: 'raw' }]
  })
  const a = await app.inject({ method: 'POST', url: '/opendsr/v2/requests', headers: as('acme'), payload: body('8c4d7b1f-eefd-4dba-a1cc-7b1d1f0f9e88') })
  const b = await app.inject({ method: 'POST', url: '/opendsr/v2/requests', headers: as('globex'), payload: body('9d5e8c2a-ff0e-4ecb-b2dd-8c2e2a1a0f99') })
  t.equal(a.statusCode, 201)
  t.equal(b.statusCode, 201)
  const rows = await app.dbh.rows<{ n: number }>(sql`select count(distinct request_id)::int as n from opendsr_requests`)
  t.equal(rows[0]!.n, 1, 'merged into one request')
  const del = await app.inject({ method: 'DELETE', url: '/opendsr/v2/requests/9d5e8c2a-ff0e-4ecb-b2dd-8c2e2a1a0f99', headers: as('globex') })
  t.equal(del.statusCode, 409)
  t.equal(del.json().code, 'DSR_OPENDSR_REQUEST_SHARED')
  const status = await app.inject({ method: 'GET', url: '/opendsr/v2/requests/8c4d7b1f-eefd-4dba-a1cc-7b1d1f0f9e88', headers: as('acme') })
  t.equal(status.json().request_status, 'pending', "acme's request stands")
})
