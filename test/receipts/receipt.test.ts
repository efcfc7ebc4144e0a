import { createHash, createHmac, generateKeyPairSync } from 'node:crypto'
import t from 'tap'
import { sql } from 'drizzle-orm'
import { compactVerify, createLocalJWKSet, calculateJwkThumbprint, errors as joseErrors, type JWK } from 'jose'
import { auth, build, requestBody, testDb } from '../helper.js'
import { KEEP_REASON } from '../fixtures/postgres-connector.js'
import { ADA, BOB, FAST, erase, memorySystem, registryWith, shopInServiceDb, shopSystem, type App } from '../backups/support.js'

/**
 * Signed erasure receipts: GET /v1/requests/:id/receipt and /.well-known/jwks.json, on a real
 * database (PGlite, or the Postgres of DATABASE_URL), through the real engine. Ada is erased from a
 * Postgres shop (which keeps her invoices' amounts for tax law: a retained outcome) and a CRM; the
 * newsletter never had her; a data warehouse is configured but cannot erase (out of scope).
 */

const HMAC_KEY = 'receipt-hmac-secret-for-tests-0000000000'
const env = { ...FAST, RECEIPT_HMAC_KEY: HMAC_KEY, BACKUP_RETENTION_DAYS: '30' }
const DAY = 86_400_000

const dbh = await testDb(t)
await shopInServiceDb(dbh)

async function systems () {
  const registry = await registryWith(dbh, [
    shopSystem({ backupRetentionDays: 90 }),
    memorySystem('crm', { displayName: 'CRM' }),
    memorySystem('newsletter', { adaToo: false, displayName: 'Newsletter' })
  ])
  // A configured system whose connector cannot erase (collect only): never part of an erasure.
  registry.set('warehouse', { ...registry.get('newsletter')!, id: 'warehouse', displayName: 'Data warehouse', capabilities: ['collect'] })
  return registry
}

async function jwksOf (app: App) {
  const res = await app.inject({ url: '/.well-known/jwks.json' })
  return { res, keys: res.json().keys as JWK[] }
}

async function verify (app: App, jws: string) {
  return compactVerify(jws, createLocalJWKSet({ keys: (await jwksOf(app)).keys }))
}

const hmac = (kind: string, value: string) => createHmac('sha256', HMAC_KEY).update(`${kind}:${value}`).digest('hex')

const logs: string[] = []
const registry = await systems()
const app = await build(t, { dbh, registry, env, logs })
const ada = await erase(app, ADA)

t.test('the receipt of a completed erasure is signed, verifiable with the published key, and says what happened', async (t) => {
  t.equal(ada.status, 'completed')
  const res = await app.inject({ url: `/v1/requests/${ada.id}/receipt`, headers: auth('reader') })
  t.equal(res.statusCode, 200)
  const body = res.json()
  t.match(body, { jws: String, kid: String, payload_sha256: /^[0-9a-f]{64}$/, jwks_uri: '/.well-known/jwks.json' })

  const { res: jwksRes, keys } = await jwksOf(app)
  t.equal(jwksRes.statusCode, 200, 'the JWKS needs no API key')
  t.equal(keys.length, 1)
  t.match(keys[0], { kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig', kid: body.kid, x: String })
  t.notOk('d' in keys[0]!, 'no private part is published')
  t.equal(await calculateJwkThumbprint({ kty: keys[0]!.kty!, crv: keys[0]!.crv!, x: keys[0]!.x! }), body.kid, 'kid is the RFC 7638 thumbprint')

  const verified = await verify(app, body.jws)
  t.match(verified.protectedHeader, { alg: 'EdDSA', kid: body.kid, typ: 'dsr-erasure-receipt+json' })
  const payloadText = new TextDecoder().decode(verified.payload)
  t.strictSame(JSON.parse(payloadText), body.receipt, 'the JSON receipt is exactly the signed payload')
  t.equal(createHash('sha256').update(payloadText).digest('hex'), body.payload_sha256)

  const r = body.receipt
  t.match(r, {
    type: 'erasure_receipt',
    version: 1,
    issuer: 'dsar-service',
    request_id: ada.id,
    regime: 'gdpr',
    status: 'completed',
    received_at: String,
    completed_at: String,
    issued_at: String,
    restore: null
  })
  t.ok(Date.parse(r.completed_at) >= Date.parse(r.received_at))

  const byId = Object.fromEntries(r.connectors.map((c: { connector: string }) => [c.connector, c]))
  t.strictSame(Object.keys(byId).sort(), ['crm', 'newsletter', 'shop'], 'every system the request reached')
  const shop = byId.shop
  t.match(shop, { name: 'Web shop', action: 'erase', status: 'succeeded', attempts: 1, error_code: null, first_attempt_at: String, finished_at: String })
  t.ok(shop.outcomes.some((o: object) => JSON.stringify(o) === JSON.stringify({ stream: 'invoices', status: 'retained', reason: KEEP_REASON })),
    'the retained invoices, with the legal reason')
  t.ok(shop.outcomes.some((o: { stream: string, status: string, count?: number }) => o.stream === 'customers' && o.status === 'erased' && o.count === 1))
  t.strictSame(shop.backups, {
    kept_until: new Date(Date.parse(shop.finished_at) + 90 * DAY).toISOString(), retention_days: 90, treatment: 'beyond_use'
  }, 'the connector\'s own backup retention')
  t.strictSame(byId.crm.outcomes, [{ stream: 'contacts', status: 'erased', count: 1 }])
  t.strictSame(byId.crm.backups, {
    kept_until: new Date(Date.parse(byId.crm.finished_at) + 30 * DAY).toISOString(), retention_days: 30, treatment: 'beyond_use'
  }, 'BACKUP_RETENTION_DAYS where the connector says nothing')
  t.match(byId.crm, { name: 'CRM' })
  t.strictSame(byId.newsletter.outcomes, [{ stream: 'contacts', status: 'not_found' }])
  t.equal(byId.newsletter.backups, null, 'nothing erased there, so nothing of hers in its backups')
  t.ok(Date.parse(shop.first_attempt_at) <= Date.parse(shop.finished_at))

  t.match(r.not_in_scope, [{ connector: 'warehouse', name: 'Data warehouse', reason: /cannot erase/ }], 'the system it could not reach, and why')
  t.equal(r.not_in_scope.length, 1)

  // The identifiers, only as keyed hashes: an independent HMAC over what the service stored matches.
  t.match(r.subject, { algorithm: 'HMAC-SHA256', key_id: createHash('sha256').update('dsr-receipt-hmac-key:' + HMAC_KEY).digest('hex').slice(0, 16) })
  t.strictSame(r.subject.identifiers, [{ kind: 'email', hmac: hmac('email', ADA) }])
  t.not(r.subject.identifiers[0].hmac, createHash('sha256').update(ADA).digest('hex'), 'not a plain hash a dictionary could reverse')
  t.not(r.subject.identifiers[0].hmac, hmac('email', BOB), 'and it is hers, not Bob\'s')

  // Hashes and the JWS are hex and base64url, which can hold "ada" by chance: look for what they cannot.
  const text = res.body.toLowerCase()
  for (const personal of ['ada.', 'ada lovelace', 'lovelace', 'example.com', '+44', 'square']) t.notOk(text.includes(personal), `no "${personal}" in the receipt`)
})

t.test('a tampered receipt fails verification', async (t) => {
  const { jws, receipt } = (await app.inject({ url: `/v1/requests/${ada.id}/receipt`, headers: auth() })).json()
  const [header, , signature] = jws.split('.')
  const forged = { ...receipt, not_in_scope: [] }
  const tampered = `${header}.${Buffer.from(JSON.stringify(forged)).toString('base64url')}.${signature}`
  await t.rejects(verify(app, tampered), joseErrors.JWSSignatureVerificationFailed, 'a changed payload does not verify')
  const flipped = signature.startsWith('A') ? `B${signature.slice(1)}` : `A${signature.slice(1)}`
  await t.rejects(verify(app, `${header}.${jws.split('.')[1]}.${flipped}`), joseErrors.JWSSignatureVerificationFailed, 'nor does a changed signature')
  const other = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' })
  await t.rejects(compactVerify(jws, createLocalJWKSet({ keys: [{ ...other, kid: receipt.receipt_id, alg: 'EdDSA' }] })), 'nor a key that is not ours')
})

t.test('the same request always yields the same receipt, also after the app is rebuilt on the same database', async (t) => {
  const first = (await app.inject({ url: `/v1/requests/${ada.id}/receipt`, headers: auth() })).json()
  const again = (await app.inject({ url: `/v1/requests/${ada.id}/receipt`, headers: auth() })).json()
  t.strictSame(again, first, 'byte for byte the same receipt')
  const [{ n }] = (await dbh.rows<{ n: number }>(sql`select count(*)::int as n from erasure_receipts where request_id = ${ada.id}`)) as [{ n: number }]
  t.equal(n, 1, 'issued once')

  // A new app on the same database (as after a restart), with the connectors configured differently.
  const later = await build(t, {
    dbh, env, registry: await registryWith(dbh, [shopSystem(), memorySystem('crm'), memorySystem('helpdesk')])
  })
  const rebuilt = (await later.inject({ url: `/v1/requests/${ada.id}/receipt`, headers: auth() })).json()
  t.strictSame(rebuilt, first, 'the stored receipt, not a new one from the new configuration')
  const verified = await verify(later, rebuilt.jws)
  t.strictSame(JSON.parse(new TextDecoder().decode(verified.payload)), first.receipt,
    'the signing key was made once and kept in the database: the receipt still verifies')
  t.strictSame((await jwksOf(later)).keys, (await jwksOf(app)).keys, 'the same published key')
})

t.test('a configured signing key takes over; receipts signed with the stored key still verify', async (t) => {
  const { privateKey } = generateKeyPairSync('ed25519')
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const configured = await build(t, {
    dbh, registry: await systems(), env: { ...env, RECEIPT_SIGNING_KEY: pem.replaceAll('\n', '\\n') }
  })
  const { keys } = await jwksOf(configured)
  t.equal(keys.length, 2, 'the configured key, then the one made before it')
  const old = (await configured.inject({ url: `/v1/requests/${ada.id}/receipt`, headers: auth() })).json()
  t.equal(keys[1]!.kid, old.kid)
  t.ok(await verify(configured, old.jws), 'an earlier receipt still verifies')

  const bob = await erase(configured, BOB)
  const fresh = (await configured.inject({ url: `/v1/requests/${bob.id}/receipt`, headers: auth() })).json()
  t.equal(fresh.kid, keys[0]!.kid, 'new receipts are signed with the configured key')
  t.not(fresh.kid, old.kid)
  t.ok(await verify(configured, fresh.jws))
})

t.test('the erasure_proof job issues receipts as erasures close, before anyone asks', async (t) => {
  const grace = await erase(app, 'grace@example.com')
  const stored = () => dbh.rows<{ n: number }>(sql`select count(*)::int as n from erasure_receipts where request_id = ${grace.id}`)
  t.equal((await stored())[0]!.n, 0, 'not yet')
  const run = await app.scheduler.tick('erasure_proof', new Date())
  t.match(run, { ran: true, details: { receipts_issued: Number } })
  t.ok((run.details!.receipts_issued as number) >= 1)
  t.equal((await stored())[0]!.n, 1, 'issued by the job')
  const again = await app.scheduler.tick('erasure_proof', new Date(Date.now() + 60_000))
  t.match(again, { ran: true, details: { receipts_issued: 0 } }, 'and only once')
  const res = (await app.inject({ url: `/v1/requests/${grace.id}/receipt`, headers: auth() })).json()
  t.strictSame(res.receipt.subject.identifiers, [{ kind: 'email', hmac: hmac('email', 'grace@example.com') }])
  t.strictSame(res.receipt.connectors.map((c: { backups: unknown }) => c.backups), [null, null, null], 'Grace was in none of them')
})

t.test('no receipt for what is not a closed erasure; scopes', async (t) => {
  const access = await app.inject({
    method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody({ subject: { email: BOB } })
  })
  const notErasure = await app.inject({ url: `/v1/requests/${access.json().id}/receipt`, headers: auth() })
  t.equal(notErasure.statusCode, 409)
  t.match(notErasure.json(), { code: 'DSR_RECEIPT_NOT_AVAILABLE', message: /access request/ })

  const open = await app.inject({
    method: 'POST', url: '/v1/requests', headers: auth(), payload: requestBody({ type: 'erasure', subject: { email: BOB } })
  })
  const openReceipt = await app.inject({ url: `/v1/requests/${open.json().id}/receipt`, headers: auth() })
  t.equal(openReceipt.statusCode, 409)
  t.match(openReceipt.json(), { code: 'DSR_RECEIPT_NOT_AVAILABLE', message: /received/ })

  t.equal((await app.inject({ url: '/v1/requests/00000000-0000-4000-8000-000000000000/receipt', headers: auth() })).json().code, 'DSR_REQUEST_NOT_FOUND')
  t.equal((await app.inject({ url: `/v1/requests/${ada.id}/receipt` })).statusCode, 401)
  t.equal((await app.inject({ url: `/v1/requests/${ada.id}/receipt`, headers: auth('outsider') })).statusCode, 403)
})

t.test('nothing personal reached the logs', async (t) => {
  t.ok(logs.length > 0, 'the app did log')
  const all = logs.join('').toLowerCase()
  for (const personal of ['lovelace', 'ada.', 'bob@', 'grace@']) t.notOk(all.includes(personal), `no "${personal}" in the logs`)
  t.notOk(all.includes(HMAC_KEY.toLowerCase()), 'nor the HMAC secret')
})
