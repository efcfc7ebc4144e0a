import { readFileSync } from 'node:fs'
import t from 'tap'
import { parse } from 'yaml'
import { loadConfig } from '../src/config.js'
import { parseStorageUrl } from '../src/storage/storage-url.js'
import { fromRoot } from './paths.js'

/**
 * docker-compose.yml, read as docker compose would (YAML with merge keys, `${VAR:-default}` and
 * `${VAR:?message}` substituted): no engine runs here, so this checks what can be checked without
 * one. API and worker share the database and the object store and no volume, their settings pass
 * the service's own validation, and every dependency and volume they name exists.
 */

interface Service {
  image?: string
  environment?: Record<string, string>
  volumes?: string[]
  depends_on?: Record<string, { condition: string }>
  entrypoint?: string[]
  command?: string[]
}

const text = readFileSync(fromRoot('docker-compose.yml'), 'utf8')
const substituted = text.replace(/\$\{([A-Z_]+)(?::-([^}]*)|:\?[^}]*)?\}/g, (_m, name: string, fallback?: string) =>
  name === 'API_KEYS' ? 'api-keys-as-given' : fallback ?? '')
const API_KEYS = JSON.stringify([{ name: 'admin', scopes: ['admin'], sha256: 'a'.repeat(64) }])
const compose = parse(substituted, { merge: true }) as { services: Record<string, Service>, volumes: Record<string, unknown> }
const { services } = compose

t.test('API and worker keep archives and collected files in the object store, sharing no disk', async (t) => {
  for (const [name, role] of [['api', 'api'], ['worker', 'worker']] as const) {
    const svc = services[name]!
    const env = svc.environment!
    t.equal(env.ROLE, role, `${name}: ROLE=${role}`)
    t.notOk(svc.volumes, `${name}: no volume`)
    t.notOk(env.STORAGE_DIR, `${name}: no STORAGE_DIR`)
    t.equal(env.API_KEYS, 'api-keys-as-given', `${name}: API_KEYS from the environment`)
    const config = loadConfig({ ...env, API_KEYS })
    t.match(config, { STORAGE_URL: /^s3:\/\//, STORAGE_S3_PATH_STYLE: true, ROLE: role }, `${name}: its settings pass validation`)
    const endpoint = new URL(env.AWS_ENDPOINT_URL_S3!)
    t.ok(services[endpoint.hostname], `${name}: the endpoint is the ${endpoint.hostname} service`)
    t.ok(env.AWS_REGION && env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY, `${name}: region and credentials for the SDK`)
    t.equal(env.AWS_SECRET_ACCESS_KEY, services[endpoint.hostname]!.environment!.MINIO_ROOT_PASSWORD, `${name}: the store's credentials`)
    t.match(svc.depends_on, { migrate: { condition: 'service_completed_successfully' }, bucket: { condition: 'service_completed_successfully' } })
  }
  const bucket = parseStorageUrl(services.api!.environment!.STORAGE_URL!)!.bucket
  t.match(services.bucket!.entrypoint!.join(' '), new RegExp(`mc mb --ignore-existing store/${bucket}`), `the bucket service creates ${bucket}`)
  t.strictSame(services.api!.environment, { ...services.worker!.environment, ROLE: 'api' }, 'API and worker have the same settings but ROLE')
})

t.test('every dependency is a service and every named volume is declared', async (t) => {
  for (const [name, svc] of Object.entries(services)) {
    for (const dep of Object.keys(svc.depends_on ?? {})) t.ok(services[dep], `${name} depends on ${dep}, a service`)
    for (const v of svc.volumes ?? []) t.ok(v.split(':')[0]! in compose.volumes, `${name}: volume ${v.split(':')[0]} is declared`)
  }
})
