import { createHash, randomBytes } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import t from 'tap'
import { checkAddresses, specialRange, type HostResolver } from '../../src/transfers/addresses.js'
import { matchDestination, parseAllowList } from '../../src/transfers/allowlist.js'
import { deliver } from '../../src/transfers/deliver.js'
import { createSecretBox, parseSecretKey } from '../../src/transfers/seal.js'

t.test('TRANSFER_ALLOWLIST entries', async (t) => {
  const list = parseAllowList(' https://*.receiver.example , https://partner.example:8443,import.example, http://127.0.0.1:9000 ')
  t.strictSame(list, [
    { scheme: 'https:', host: 'receiver.example', wildcard: true, port: 443 },
    { scheme: 'https:', host: 'partner.example', wildcard: false, port: 8443 },
    { scheme: 'https:', host: 'import.example', wildcard: false, port: 443 },
    { scheme: 'http:', host: '127.0.0.1', wildcard: false, port: 9000 }
  ])
  t.strictSame(parseAllowList(undefined), [])
  for (const [entry, why] of [
    ['http://partner.example', /http is allowed only for loopback/],
    ['*.example', /at least two labels/],
    ['https://*.10.0.0.1', /at least two labels|not a valid host/],
    ['https://partner.example/path', /only scheme, host and port|expected an origin/],
    ['ftp://partner.example', /only https/],
    ['https://user@partner.example', /only scheme, host and port/]
  ] as const) {
    t.throws(() => parseAllowList(entry), why, entry)
  }

  const match = (url: string) => {
    const m = matchDestination(list, new URL(url))
    return m ? (m.exact ? 'exact' : 'wildcard') : null
  }
  t.equal(match('https://a.receiver.example/x'), 'wildcard')
  t.equal(match('https://deep.a.receiver.example/'), 'wildcard')
  t.equal(match('https://receiver.example/'), null, 'a wildcard does not cover the parent itself')
  t.equal(match('https://evilreceiver.example/'), null, 'a suffix that is not a subdomain does not match')
  t.equal(match('https://a.receiver.example:8443/'), null, 'another port does not match')
  t.equal(match('http://a.receiver.example/'), null, 'another scheme does not match')
  t.equal(match('https://PARTNER.example:8443/in?x=1'), 'exact', 'host names compare as URL normalises them')
  t.equal(match('https://partner.example/'), null, 'an explicit port must be used')
  t.equal(match('https://import.example:443/'), 'exact', 'the default port is the same origin')
  t.equal(match('https://import.example./'), 'exact', 'a trailing dot is the same host')
  t.equal(match('http://127.0.0.1:9000/'), 'exact')
  t.equal(match('http://0x7f.1:9000/'), 'exact', 'odd IPv4 spellings are normalised by the URL parser first')
  t.equal(match('http://localhost:9000/'), null, 'a name for an allowed address is not the allowed host')
})

t.test('special-purpose address ranges', async (t) => {
  const cases: Array<[string, string | null]> = [
    ['8.8.8.8', null],
    ['2606:4700:4700::1111', null],
    ['127.0.0.1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'linkLocal'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['0.0.0.0', 'unspecified'],
    ['192.0.2.10', 'reserved'],
    ['224.0.0.1', 'multicast'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:10.0.0.1', 'private'],
    ['fd00::1', 'uniqueLocal'],
    ['fe80::1', 'linkLocal'],
    ['64:ff9b::7f00:1', 'rfc6052'],
    ['2002:7f00:1::', '6to4'],
    ['::7f00:1', 'reserved']
  ]
  for (const [address, range] of cases) t.equal(specialRange(address), range, address)
})

t.test('every resolved address is checked; only an exactly listed host may be non-public', async (t) => {
  const list = parseAllowList('https://*.receiver.example,https://intranet.receiver.example')
  const dns: Record<string, string[]> = {
    'public.receiver.example': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'],
    'mixed.receiver.example': ['93.184.215.14', '10.0.0.5'],
    'intranet.receiver.example': ['10.0.0.7']
  }
  const resolve: HostResolver = async (host) => {
    if (host === 'flaky.receiver.example') throw Object.assign(new Error('timeout'), { code: 'EAI_AGAIN' })
    const found = dns[host]
    if (!found) throw Object.assign(new Error('nx'), { code: 'ENOTFOUND' })
    return found.map((address) => ({ address, family: address.includes(':') ? 6 as const : 4 as const }))
  }
  const check = (url: string) => {
    const u = new URL(url)
    return checkAddresses(u, matchDestination(list, u)!, resolve)
  }
  t.match(await check('https://public.receiver.example/'), { status: 'ok', address: { address: '93.184.215.14', family: 4 } })
  t.match(await check('https://mixed.receiver.example/'), { status: 'refused', message: /private address/ }, 'one private address is enough to refuse')
  t.match(await check('https://intranet.receiver.example/'), { status: 'ok', address: { address: '10.0.0.7' } }, 'listed exactly: the operator named it')
  t.match(await check('https://gone.receiver.example/'), { status: 'unresolvable' })
  t.match(await check('https://flaky.receiver.example/'), { status: 'dns_error' })
})

t.test('the authorization is sealed with AES-256-GCM, bound to its transfer', async (t) => {
  const key = parseSecretKey(randomBytes(32).toString('base64'))!
  const box = createSecretBox(key)
  const sealed = box.seal('Bearer abc', 'transfer-1')
  t.notMatch(sealed, /abc/)
  t.not(box.seal('Bearer abc', 'transfer-1'), sealed, 'a fresh IV each time')
  t.equal(box.open(sealed, 'transfer-1'), 'Bearer abc')
  t.equal(box.open(sealed, 'transfer-2'), null, 'not on another transfer')
  t.equal(createSecretBox(randomBytes(32)).open(sealed, 'transfer-1'), null, 'not under another key')
  const parts = sealed.split('.')
  parts[3] = Buffer.from('Bearer xyz').toString('base64url')
  t.equal(box.open(parts.join('.'), 'transfer-1'), null, 'tampering is detected')
  t.equal(parseSecretKey('ab'.repeat(32))?.length, 32, 'hex works too')
  t.throws(() => parseSecretKey('c2hvcnQ='), /32 bytes/)
  t.equal(parseSecretKey(undefined), null)
})

t.test('delivery connects to the checked address only (no second DNS lookup to rebind)', async (t) => {
  const seen: Array<{ host: string | undefined, sha256: string }> = []
  const server = http.createServer((req, res) => {
    const hash = createHash('sha256')
    req.on('data', (c: Buffer) => hash.update(c))
    req.on('end', () => {
      seen.push({ host: req.headers.host, sha256: hash.digest('hex') })
      res.writeHead(200).end('ok')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.close() })
  const { port } = server.address() as AddressInfo
  const body = randomBytes(300_000)
  const sha256 = createHash('sha256').update(body).digest('hex')
  // The name does not exist in any DNS: reaching the server proves the pinned address was used.
  const result = await deliver({
    url: new URL(`http://rebind.invalid:${port}/in`),
    address: { address: '127.0.0.1', family: 4 },
    body: Readable.from([body.subarray(0, 100_000), body.subarray(100_000)]),
    size: body.length,
    sha256,
    headers: { 'idempotency-key': 'k' },
    idleTimeoutMs: 5000,
    maxDurationMs: 10_000,
    signal: new AbortController().signal
  })
  t.match(result, { kind: 'response', status: 200, excerpt: 'ok', bodySent: true, sentSha256: sha256, bytesSent: body.length })
  t.strictSame(seen, [{ host: `rebind.invalid:${port}`, sha256 }], 'the Host header still names the destination')
})

t.test('a receiver that never answers times out', async (t) => {
  const server = http.createServer(() => { /* reads nothing, answers nothing */ })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    server.closeAllConnections()
    server.close()
  })
  const { port } = server.address() as AddressInfo
  const body = Buffer.from('small archive')
  const result = await deliver({
    url: new URL(`http://127.0.0.1:${port}/`),
    address: { address: '127.0.0.1', family: 4 },
    body: Readable.from([body]),
    size: body.length,
    sha256: createHash('sha256').update(body).digest('hex'),
    headers: {},
    idleTimeoutMs: 300,
    maxDurationMs: 10_000,
    signal: new AbortController().signal
  })
  t.match(result, { kind: 'error', reason: 'timeout' })
})
