/**
 * The service's archive builder (src/archive/builder.ts) on one request with many records: peak
 * memory of the build, its time, and the size of index.html per record.
 *
 *   npx tsx bench/archive-build.ts [--records 100000] [--rounds 3]
 *
 * It creates a fresh `dsr_bench_<random>` database on the server named by DATABASE_URL (default
 * postgres://root@127.0.0.1:5432/test), migrates it, stores one completed request with `--records`
 * collected records spread over 4 streams of 2 systems (records of 9 fields, as a CRM or a support
 * desk holds them), then builds its archive `--rounds` times, each build in a child process of its
 * own (`--build <url> <request id>`), so each peak RSS (VmHWM) is the build's alone. The database
 * is dropped at the end. `--seed` and `--drop <url>` do the first and last steps alone, so builds of
 * two checkouts can be alternated on the same data (`--build` from each checkout).
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import postgres from 'postgres'

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    records: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '3' },
    seed: { type: 'boolean', default: false },
    build: { type: 'boolean', default: false },
    drop: { type: 'boolean', default: false }
  }
})
const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test'
const STREAMS = [['crm', 'contacts'], ['crm', 'deals'], ['support', 'tickets'], ['support', 'comments']] as const
const MB = 1024 * 1024

/** A fresh database with one completed request and its collected records; returns its URL and the request id. */
async function seed (records: number): Promise<{ url: string, requestId: string }> {
  const name = `dsr_bench_${randomBytes(6).toString('hex')}`
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} })
  await admin.unsafe(`create database ${name}`)
  await admin.end()
  const url = new URL(ADMIN_URL)
  url.pathname = `/${name}`
  const { openDb } = await import('../src/db/client.js')
  const dbh = await openDb({ url: url.toString() })
  await dbh.migrate()
  await dbh.close()
  const sql = postgres(url.toString(), { max: 1, onnotice: () => {} })
  const [request] = await sql`
    insert into requests (id, type, status, regime, subject, requester, channel, time_zone, received_at, due_at, deadline_rule, created_by)
    values (gen_random_uuid(), 'access', 'completed', 'gdpr', '{}', '{}', 'api', 'UTC', now(), now() + interval '30 days', 'bench', 'bench') returning id`
  const tasks = new Map<string, string>()
  for (const connector of new Set(STREAMS.map(([c]) => c))) {
    const [task] = await sql`insert into tasks (id, request_id, connector_id, action, max_attempts, status) values (gen_random_uuid(), ${request!.id}, ${connector}, 'collect', 1, 'succeeded') returning id`
    tasks.set(connector, task!.id as string)
  }
  for (const [i, [connector, stream]] of STREAMS.entries()) {
    await sql`
      insert into collected_items (request_id, task_id, connector_id, stream, item_key, kind, data)
      select ${request!.id}, ${tasks.get(connector)!}, ${connector}, ${stream}, n::text, 'record',
        jsonb_build_object('id', n, 'recipient_email', 'person' || n || '@example.com', 'full_name', 'Person number ' || n,
          'created_at', now() - n * interval '1 minute', 'status', (array['open', 'won', 'lost'])[n % 3 + 1], 'amount', n * 1.5,
          'subscribed', n % 2 = 0, 'tags', jsonb_build_array('tag' || n % 7, 'tag' || n % 11),
          'note', 'A note of some length about the contact, written by someone in sales or support, number ' || n)
      from generate_series(1, ${Math.ceil((records - i) / STREAMS.length)}) n`
  }
  await sql.end()
  return { url: url.toString(), requestId: request!.id as string }
}

/** One build, in this process: prints its time, peak RSS, archive size and index.html size as JSON. */
async function build (url: string, requestId: string): Promise<void> {
  const { openDb } = await import('../src/db/client.js')
  const { createItemsRepository } = await import('../src/db/repositories/items-repository.js')
  const { createLocalBlobStore } = await import('../src/storage/blob-store.js')
  const { buildArchive } = await import('../src/archive/builder.js')
  const dbh = await openDb({ url })
  const dir = await mkdtemp(join(tmpdir(), 'dsr-bench-archive-'))
  const controllerFile = new URL('../connectors/samples/controller.json', import.meta.url)
  const processing = { purposes: ['Benchmarking'], retention: { rule: 'Deleted after the run' }, recipients: [], locations: [] }
  const registry = new Map(['crm', 'support'].map((id) => [id, {
    id,
    displayName: id,
    streams: STREAMS.filter(([c]) => c === id).map(([, name]) => ({ name, description: `The ${name}`, categories: ['contact'], processing }))
  }]))
  const started = performance.now()
  const built = await buildArchive({
    items: createItemsRepository(dbh),
    storage: createLocalBlobStore(dir),
    registry: registry as never,
    encryptionKey: null,
    log: { warn () {} } as never
  }, {
    archiveId: 'bench',
    storageKey: 'bench.zip',
    request: { id: requestId, type: 'access', regime: 'gdpr' },
    systems: [{ connector: 'crm', status: 'collected' }, { connector: 'support', status: 'collected' }],
    generatedAt: new Date(),
    // The company-wide information, where this checkout has it (older builders ignore it).
    ...(existsSync(controllerFile) ? { controller: JSON.parse(readFileSync(controllerFile, 'utf8')) } : {})
  } as never)
  const ms = performance.now() - started
  const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024
  const index = built.manifest.entries.find((e) => e.path === 'index.html')
  process.stdout.write(`${JSON.stringify({ ms: Math.round(ms), peakRssMb: +(hwm / MB).toFixed(1), zipMb: +(built.size / MB).toFixed(2), records: built.manifest.records, indexBytes: index?.bytes ?? null })}\n`)
  await dbh.close()
  await rm(dir, { recursive: true, force: true })
}

async function drop (url: string): Promise<void> {
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} })
  await admin.unsafe(`drop database if exists ${new URL(url).pathname.slice(1)} with (force)`)
  await admin.end()
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

if (args.build) {
  await build(positionals[0]!, positionals[1]!)
} else if (args.drop) {
  await drop(positionals[0]!)
} else if (args.seed) {
  process.stdout.write(`${JSON.stringify(await seed(Number(args.records)))}\n`)
} else {
  const { url, requestId } = await seed(Number(args.records))
  try {
    const runs = []
    for (let i = 0; i < Number(args.rounds); i++) {
      const out = execFileSync(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, '--build', url, requestId], { encoding: 'utf8' })
      const run = JSON.parse(out.trim().split('\n').pop()!) as { ms: number, peakRssMb: number, zipMb: number, records: number, indexBytes: number | null }
      console.log(`round ${i + 1}: ${JSON.stringify(run)}`)
      runs.push(run)
    }
    const index = runs[0]!.indexBytes
    console.log(`median of ${runs.length}: ${median(runs.map((r) => r.ms))} ms, peak RSS ${median(runs.map((r) => r.peakRssMb))} MB; ` +
      `index.html ${index ?? '?'} bytes for ${runs[0]!.records} records (${index ? (index / runs[0]!.records).toFixed(1) : '?'} bytes per record)`)
  } finally {
    await drop(url)
  }
}
