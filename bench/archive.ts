/**
 * Archive benchmark: archiver's ZipArchive against the `zip` CLI on the same content, with where
 * archiver's time goes and what the service's archive builder could change.
 *
 *   npx tsx bench/archive.ts [--attachments 500] [--attachment-mb 2] [--records 100000] [--level 6]
 *                            [--rounds 1] [--deflate-rounds 1] [--quick] [--no-deflate] [--no-pieces] [--cpu-prof]
 *
 * Content (written under os.tmpdir(), deleted at the end): ~1 GB of attachments (incompressible
 * random bytes, 500 × 2 MB) and 100,000 records (JSON objects of a few fields, as NDJSON in 4 streams).
 * Three comparisons, each on the same files:
 *   store    attachments only, stored (no compression)    vs  zip -0
 *   mixed    attachments stored, records deflated (level)  vs  zip -<level> -n .bin   (what the service does)
 *   deflate  everything deflated (level)                   vs  zip -<level>
 * Every archiver run is its own child process (clean RSS; sampled every 50 ms, goal ≤ 200 MB), and
 * throughput is content bytes / wall time (MB = 2^20 bytes), and content bytes / CPU time; goal ≥ 0.5×
 * the zip CLI. Variants try larger source reads (256 KB, 1 MB), zlib.crc32 in place of archiver's
 * JavaScript CRC-32 (crc-32, used by compress-commons; output checked with `unzip -t`), and the
 * service's extra hashing done two ways. `--cpu-prof` profiles two archiver store runs and prints
 * the functions with the most self time.
 *
 * A benchmark, not a test: it exits 0 whatever the figures, non-zero only when a run breaks.
 */
import { spawn } from 'node:child_process'
import { createHash, randomFillSync } from 'node:crypto'
import { once } from 'node:events'
import { createReadStream, createWriteStream, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable, Transform, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { parseArgs } from 'node:util'
import zlib from 'node:zlib'
import { ZipArchive, type ZipEntryData } from 'archiver'

const { values: args } = parseArgs({
  options: {
    attachments: { type: 'string', default: '500' },
    'attachment-mb': { type: 'string', default: '2' },
    records: { type: 'string', default: '100000' },
    level: { type: 'string', default: '6' },
    rounds: { type: 'string', default: '1' },
    'deflate-rounds': { type: 'string', default: '1' },
    quick: { type: 'boolean', default: false },
    'no-deflate': { type: 'boolean', default: false },
    'no-pieces': { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    child: { type: 'string' }
  }
})
const MB = 1024 * 1024
const RSS_GOAL_MB = 200
const RATIO_GOAL = 0.5
const mb = (n: number) => (n / MB).toFixed(1)
const rate = (bytes: number, ms: number) => bytes / MB / (ms / 1000)
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}
// compress-commons and crc32-stream compute CRC-32 with this module; patching its export patches them.
const crc32js = createRequire(import.meta.resolve('compress-commons'))('crc-32') as { buf (data: Uint8Array, seed?: unknown): number }

/** serviceHashing: the builder's SHA-256 per entry and of the whole zip, through an async generator (as it is) or a Transform. */
interface Variant { group: Group, store: 'attachments' | 'none', readHwm: number, zlibCrc: boolean, serviceHashing: false | 'generator' | 'transform' }
type Group = 'store' | 'mixed' | 'deflate'
interface Entry { name: string, path: string, kind: 'attachment' | 'records' }
/** Wall time and CPU time (user + system, all threads) of one run. */
interface RunResult { ms: number, cpuMs: number, bytesIn: number, bytesOut: number, peakRssMb: number, maxRssMb: number }

if (args.child) await childMain(JSON.parse(args.child) as { variant: Variant, dir: string, out: string, level: number })
else await main()

// ---------------------------------------------------------------------------------------------
// One archiver run (child process)

async function childMain ({ variant, dir, out, level }: { variant: Variant, dir: string, out: string, level: number }) {
  if (variant.zlibCrc) crc32js.buf = (data, seed) => zlib.crc32(data, typeof seed === 'number' ? seed >>> 0 : 0) | 0
  const entries = await listEntries(dir, variant.group === 'store')
  const sampler = sampleRss(() => process.memoryUsage.rss())
  const started = performance.now()
  const cpu0 = process.cpuUsage()
  const zip = new ZipArchive({ zlib: { level } })
  const whole = createHash('sha256')
  const stages: Array<NodeJS.ReadableStream | NodeJS.WritableStream> = [zip]
  if (variant.serviceHashing) stages.push(new Transform({ transform (c: Buffer, _e, cb) { whole.update(c); cb(null, c) } }))
  stages.push(createWriteStream(out))
  const writing = pipeline(stages as unknown as [NodeJS.ReadableStream, NodeJS.WritableStream])
  let bytesIn = 0
  for (const entry of entries) {
    bytesIn += (await stat(entry.path)).size
    let source: Readable = createReadStream(entry.path, { highWaterMark: variant.readHwm })
    if (variant.serviceHashing === 'generator') source = hashed(source)
    if (variant.serviceHashing === 'transform') source = hashedByTransform(source)
    await appendEntry(zip, source, { name: entry.name, store: entry.kind === 'attachment' && variant.store === 'attachments' })
  }
  await zip.finalize()
  await writing
  const ms = performance.now() - started
  const cpu = process.cpuUsage(cpu0)
  const result: RunResult = {
    ms, cpuMs: (cpu.user + cpu.system) / 1000, bytesIn, bytesOut: (await stat(out)).size, peakRssMb: sampler.stop() / MB, maxRssMb: process.resourceUsage().maxRSS / 1024
  }
  process.stdout.write(`${JSON.stringify(result)}\n`)
}

/** As src/archive/builder.ts does: one entry at a time, each waiting for the one before. */
function appendEntry (zip: ZipArchive, source: Readable, data: ZipEntryData): Promise<void> {
  return new Promise((resolve, reject) => {
    const onEntry = (entry: { name: string }) => { if (entry.name === data.name) { zip.off('entry', onEntry); resolve() } }
    zip.on('entry', onEntry)
    source.once('error', reject)
    zip.append(source, data)
  })
}

/** The builder's per-entry SHA-256 (a Readable.from over the source), for the "service" variant. */
function hashed (source: Readable): Readable {
  const hash = createHash('sha256')
  return Readable.from((async function * () {
    for await (const chunk of source) { hash.update(chunk as Buffer); yield chunk as Buffer }
  })(), { objectMode: false })
}

/** The same SHA-256 per entry, in a Transform: no promise per chunk. */
function hashedByTransform (source: Readable): Readable {
  const hash = createHash('sha256')
  const through = new Transform({ transform (chunk: Buffer, _e, cb) { hash.update(chunk); cb(null, chunk) } })
  source.once('error', (err) => through.destroy(err))
  return source.pipe(through)
}

// ---------------------------------------------------------------------------------------------
// The comparison (parent)

async function main () {
  const attachments = args.quick ? 50 : Number(args.attachments)
  const records = args.quick ? 10_000 : Number(args.records)
  const attachmentBytes = Math.round(Number(args['attachment-mb']) * MB)
  const level = Number(args.level)
  const rounds = Number(args.rounds)
  const root = await mkdtemp(join(tmpdir(), 'dsr-bench-archive-'))
  let exitCode = 0
  try {
    console.log('archive benchmark: archiver ZipArchive vs zip CLI')
    console.log(`  node ${process.version}, ${cpus().length} CPUs, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`)
    console.log(`  zlib.crc32 available: ${typeof zlib.crc32 === 'function'}; zip: ${await zipVersion()}`)
    const dir = join(root, 'content')
    const seeded = performance.now()
    const sizes = await writeContent(dir, attachments, attachmentBytes, records)
    console.log(`  content in ${root}: ${attachments} attachments × ${mb(attachmentBytes)} MB (random) = ${mb(sizes.attachments)} MB, ` +
      `${records} records in 4 NDJSON streams = ${mb(sizes.records)} MB (written in ${((performance.now() - seeded) / 1000).toFixed(1)} s)`)
    console.log('')

    if (!args['no-pieces']) await pieces(dir, sizes.records)

    const baseline = (group: Group): Variant => ({ group, store: group === 'deflate' ? 'none' : 'attachments', readHwm: 64 * 1024, zlibCrc: false, serviceHashing: false as const })
    const plans: Array<{ group: Group, zip: string[], variants: Array<[string, Variant]> }> = [
      {
        group: 'store',
        zip: ['-0', '-r', '-D', '-X', '-q'],
        variants: [
          ['archiver (defaults: 64 KB reads, crc-32)', baseline('store')],
          ['archiver, 256 KB reads', { ...baseline('store'), readHwm: 256 * 1024 }],
          ['archiver, 1 MB reads', { ...baseline('store'), readHwm: MB }],
          ['archiver, zlib.crc32', { ...baseline('store'), zlibCrc: true }],
          ['archiver, 1 MB reads + zlib.crc32', { ...baseline('store'), readHwm: MB, zlibCrc: true }]
        ]
      },
      {
        group: 'mixed',
        zip: [`-${level}`, '-n', '.bin', '-r', '-D', '-X', '-q'],
        variants: [
          ['archiver (defaults)', baseline('mixed')],
          ['archiver, zlib.crc32', { ...baseline('mixed'), zlibCrc: true }],
          ['archiver, as the service (+ SHA-256 per entry, async generator, and of the zip)', { ...baseline('mixed'), serviceHashing: 'generator' }],
          ['archiver, as the service, hashing in Transforms instead', { ...baseline('mixed'), serviceHashing: 'transform' }],
          ['archiver, as the service, Transforms + zlib.crc32', { ...baseline('mixed'), zlibCrc: true, serviceHashing: 'transform' }]
        ]
      },
      ...(args['no-deflate']
        ? []
        : [{
            group: 'deflate' as const,
            zip: [`-${level}`, '-r', '-D', '-X', '-q'],
            variants: [
              ['archiver (defaults)', baseline('deflate')],
              ['archiver, zlib.crc32', { ...baseline('deflate'), zlibCrc: true }]
            ] as Array<[string, Variant]>
          }])
    ]
    const profiles: Array<{ label: string, dir: string }> = []
    const rows: Array<{ group: Group, label: string, r: RunResult, ratio: number, cpuRatio: number }> = []
    for (const plan of plans) {
      const title = { store: 'store: attachments only, no compression', mixed: `mixed: attachments stored, records deflated (level ${level})`, deflate: `deflate: everything deflated (level ${level})` }[plan.group]
      console.log(`== ${title}`)
      const runs = new Map<string, RunResult[]>()
      const planRounds = plan.group === 'deflate' ? Number(args['deflate-rounds']) : rounds
      for (let round = 0; round < planRounds; round++) {
        const zipLabel = `zip ${plan.zip.filter((a) => a !== '-q').join(' ')}`
        const z = await runZip(dir, plan.group, plan.zip, join(root, 'zip-out.zip'))
        runs.set(zipLabel, [...(runs.get(zipLabel) ?? []), z])
        console.log(`  ${line(zipLabel, z)}`)
        for (const [label, variant] of plan.variants) {
          const out = join(root, 'archiver-out.zip')
          const profiled = args['cpu-prof'] && plan.group === 'store' && round === 0 && (label.startsWith('archiver (defaults') || label === 'archiver, zlib.crc32')
          const profDir = profiled ? join(root, `prof-${profiles.length}`) : null
          const r = await runArchiver({ variant, dir, out, level }, profDir)
          if (profDir) profiles.push({ label, dir: profDir })
          const verified = variant.zlibCrc && round === 0 ? await unzipTest(out) : ''
          await rm(out, { force: true })
          runs.set(label, [...(runs.get(label) ?? []), r])
          console.log(`  ${line(label, r)}${verified}`)
        }
      }
      const [zipLabel, zipRuns] = [...runs.entries()][0]!
      const zipRate = median(zipRuns.map((r) => rate(r.bytesIn, r.ms)))
      const zipCpuRate = median(zipRuns.map((r) => rate(r.bytesIn, r.cpuMs)))
      console.log(`  ${planRounds > 1 ? `medians of ${planRounds} rounds, ` : ''}as a multiple of ${zipLabel} (wall MB/s; MB per CPU-second):`)
      for (const [label, rs] of runs) {
        if (label === zipLabel) continue
        const r: RunResult = {
          ms: median(rs.map((x) => x.ms)),
          cpuMs: median(rs.map((x) => x.cpuMs)),
          bytesIn: rs[0]!.bytesIn,
          bytesOut: rs[0]!.bytesOut,
          peakRssMb: Math.max(...rs.map((x) => x.peakRssMb)),
          maxRssMb: Math.max(...rs.map((x) => x.maxRssMb))
        }
        const ratio = rate(r.bytesIn, r.ms) / zipRate
        const cpuRatio = rate(r.bytesIn, r.cpuMs) / zipCpuRate
        rows.push({ group: plan.group, label, r, ratio, cpuRatio })
        console.log(`    ${label.padEnd(72)} ${ratio.toFixed(2)}× wall   ${cpuRatio.toFixed(2)}× CPU`)
      }
      console.log('')
    }

    for (const p of profiles) await printProfile(p.label, p.dir)

    console.log(`== summary (goals: ≥ ${RATIO_GOAL}× the zip CLI's throughput on the same content, peak RSS ≤ ${RSS_GOAL_MB} MB)`)
    const met = (ok: boolean) => (ok ? 'met' : 'NOT met')
    for (const { group, label, r, ratio, cpuRatio } of rows) {
      console.log(`  ${group.padEnd(8)} ${label.padEnd(72)} ${rate(r.bytesIn, r.ms).toFixed(1).padStart(6)} MB/s ${ratio.toFixed(2)}× zip ` +
        `(${met(ratio >= RATIO_GOAL)}), ${cpuRatio.toFixed(2)}× by CPU time (${met(cpuRatio >= RATIO_GOAL)}); peak RSS ${r.peakRssMb.toFixed(0)} MB (${met(r.peakRssMb <= RSS_GOAL_MB)})`)
    }
    console.log(`  load average now ${loadavg().map((l) => l.toFixed(1)).join(' ')}: on a busy machine wall times swing between identical runs; ` +
      'the CPU-time ratio (work per MB) is the steadier comparison')
  } catch (err) {
    console.error(err)
    exitCode = 1
  } finally {
    await rm(root, { recursive: true, force: true })
    console.log(`\nremoved ${root}`)
  }
  process.exitCode = exitCode
}

function line (label: string, r: RunResult): string {
  return `${label.padEnd(72)} ${(r.ms / 1000).toFixed(2).padStart(6)} s ${rate(r.bytesIn, r.ms).toFixed(1).padStart(6)} MB/s | ` +
    `CPU ${(r.cpuMs / 1000).toFixed(2).padStart(6)} s ${rate(r.bytesIn, r.cpuMs).toFixed(0).padStart(5)} MB/CPU-s | ${mb(r.bytesIn)} → ${mb(r.bytesOut)} MB, peak RSS ${r.peakRssMb.toFixed(0)} MB`
}

async function writeContent (dir: string, attachments: number, size: number, records: number) {
  await mkdir(join(dir, 'attachments'), { recursive: true })
  await mkdir(join(dir, 'records'), { recursive: true })
  const buf = Buffer.allocUnsafe(size)
  for (let i = 1; i <= attachments; i++) {
    randomFillSync(buf)
    await writeFile(join(dir, 'attachments', `att-${String(i).padStart(4, '0')}.bin`), buf)
  }
  const plans = ['free', 'pro', 'team', 'enterprise']
  const cities = ['Berlin', 'Lisbon', 'Oslo', 'Kraków', 'Lyon', 'Bologna', 'Tartu', 'Ghent']
  let recordBytes = 0
  const streams = ['crm-contacts', 'support-tickets', 'newsletter-members', 'webinar-registrations']
  for (const [s, stream] of streams.entries()) {
    const lines: string[] = []
    for (let i = s; i < records; i += streams.length) {
      lines.push(JSON.stringify({
        id: `${stream}-${i}`,
        email: `user${i % 9973}@example.com`,
        name: `Person ${i % 5003}`,
        city: cities[i % cities.length],
        plan: plans[i % plans.length],
        score: (i * 7919) % 1000,
        created_at: new Date(1_700_000_000_000 + i * 61_000).toISOString()
      }))
    }
    const text = `${lines.join('\n')}\n`
    recordBytes += Buffer.byteLength(text)
    await writeFile(join(dir, 'records', `${stream}.ndjson`), text)
  }
  return { attachments: attachments * size, records: recordBytes }
}

async function listEntries (dir: string, attachmentsOnly: boolean): Promise<Entry[]> {
  const files = async (sub: string, kind: Entry['kind']) =>
    (await readdir(join(dir, sub))).sort().map((f) => ({ name: `${sub}/${f}`, path: join(dir, sub, f), kind }))
  return [...await files('attachments', 'attachment'), ...(attachmentsOnly ? [] : await files('records', 'records'))]
}

/** Peak of a memory reading, sampled every 50 ms. */
function sampleRss (read: () => number | null) {
  let peak = read() ?? 0
  const timer = setInterval(() => { const v = read(); if (v !== null && v > peak) peak = v }, 50)
  return { stop () { clearInterval(timer); const v = read(); if (v !== null && v > peak) peak = v; return peak } }
}

async function runArchiver (spec: { variant: Variant, dir: string, out: string, level: number }, profDir: string | null): Promise<RunResult> {
  const script = new URL(import.meta.url).pathname
  const argv = [...process.execArgv, ...(profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []), script, '--child', JSON.stringify(spec)]
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'inherit'] })
  let output = ''
  child.stdout.on('data', (c: Buffer) => { output += c.toString() })
  const [code] = await once(child, 'exit') as [number | null]
  if (code !== 0) throw new Error(`archiver run failed (exit ${code})`)
  return JSON.parse(output.trim().split('\n').pop()!) as RunResult
}

async function runZip (dir: string, group: Group, flags: string[], out: string): Promise<RunResult> {
  await rm(out, { force: true })
  const entries = await listEntries(dir, group === 'store')
  const bytesIn = (await Promise.all(entries.map((e) => stat(e.path)))).reduce((n, s) => n + s.size, 0)
  const started = performance.now()
  const child = spawn('zip', [...flags, out, 'attachments', ...(group === 'store' ? [] : ['records'])], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] })
  const status = (field: string) => () => {
    try {
      const text = readFileSync(`/proc/${child.pid}/status`, 'utf8')
      const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(text)
      return m ? Number(m[1]) * 1024 : null
    } catch { return null }
  }
  const rss = sampleRss(status('VmRSS'))
  const hwm = sampleRss(status('VmHWM'))
  // utime + stime from /proc/<pid>/stat (clock ticks of 10 ms), sampled like the memory: the last
  // 50 ms slice before exit may be missed, under 1% of a run of several seconds.
  const cpuTicks = sampleRss(() => {
    try {
      const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
      return Number(fields[11]) + Number(fields[12])
    } catch { return null }
  })
  const [code] = await once(child, 'exit') as [number | null]
  const ms = performance.now() - started
  const peak = Math.max(rss.stop(), hwm.stop())
  const cpuMs = cpuTicks.stop() * 10
  if (code !== 0) throw new Error(`zip failed (exit ${code})`)
  const result = { ms, cpuMs, bytesIn, bytesOut: (await stat(out)).size, peakRssMb: peak / MB, maxRssMb: peak / MB }
  await rm(out, { force: true })
  return result
}

async function zipVersion (): Promise<string> {
  const child = spawn('zip', ['-v'], { stdio: ['ignore', 'pipe', 'ignore'] })
  let text = ''
  child.stdout.on('data', (c: Buffer) => { text += c.toString() })
  const [code] = await once(child, 'exit') as [number | null]
  if (code !== 0) throw new Error('the zip CLI is missing: run scripts/setup-system.sh')
  return /This is (Zip [^\s,]+)/.exec(text)?.[1] ?? 'zip'
}

async function unzipTest (out: string): Promise<string> {
  const child = spawn('unzip', ['-tqq', out], { stdio: 'ignore' })
  const [code] = await once(child, 'exit').catch(() => [null]) as [number | null]
  return code === 0 ? '  (unzip -t: ok)' : code === null ? '  (unzip not installed: not verified)' : `  (unzip -t FAILED: exit ${code})`
}

// ---------------------------------------------------------------------------------------------
// Where the time goes: each piece of archiver's store path, measured alone

async function pieces (dir: string, recordBytes: number) {
  console.log('== pieces (in this process, content in the page cache)')
  const attachments = (await listEntries(dir, true))
  const total = (await Promise.all(attachments.map((e) => stat(e.path)))).reduce((n, s) => n + s.size, 0)
  const time = async (label: string, bytes: number, fn: () => Promise<void> | void) => {
    const started = performance.now()
    const cpu0 = process.cpuUsage()
    await fn()
    const ms = performance.now() - started
    const cpu = process.cpuUsage(cpu0)
    console.log(`  ${label.padEnd(80)} ${rate(bytes, ms).toFixed(0).padStart(6)} MB/s  ${rate(bytes, (cpu.user + cpu.system) / 1000).toFixed(0).padStart(6)} MB/CPU-s`)
  }
  const readAll = async (hwm: number, through?: () => Transform) => {
    for (const e of attachments) {
      const sink = new Writable({ write (_c, _e, cb) { cb() } })
      await pipeline(...([createReadStream(e.path, { highWaterMark: hwm }), ...(through ? [through()] : []), sink] as unknown as [Readable, Writable]))
    }
  }
  await time('read attachments, 64 KB chunks (fs.createReadStream default)', total, () => readAll(64 * 1024))
  await time('read attachments, 1 MB chunks', total, () => readAll(MB))
  const crc32StreamModule = 'crc32-stream' // archiver's CRC pass-through for stored entries (untyped)
  const { CRC32Stream } = await import(crc32StreamModule) as { CRC32Stream: new () => Transform }
  await time('read 64 KB → CRC32Stream (readable-stream Transform + crc-32), as archiver stores', total, () => readAll(64 * 1024, () => new CRC32Stream()))
  const zlibCrcStream = () => { let c = 0; return new Transform({ transform (chunk: Buffer, _e, cb) { c = zlib.crc32(chunk, c); cb(null, chunk) } }) }
  await time('read 1 MB → node Transform + zlib.crc32', total, () => readAll(MB, zlibCrcStream))
  // The least any Node zip writer must do for a store zip: read, CRC, write one file (no transforms).
  const copyTo = async (hwm: number, crc: (chunk: Buffer, seed: number) => number) => {
    const target = join(dir, 'floor.bin')
    const out = createWriteStream(target)
    for (const e of attachments) {
      let c = 0
      for await (const chunk of createReadStream(e.path, { highWaterMark: hwm })) {
        c = crc(chunk as Buffer, c)
        if (!out.write(chunk)) await once(out, 'drain')
      }
    }
    out.end()
    await once(out, 'finish')
    await rm(target, { force: true })
  }
  await time('Node floor: read 64 KB → crc-32 → write one file (no stream transforms)', total, () => copyTo(64 * 1024, (b, c) => crc32js.buf(b, c)))
  await time('Node floor: read 1 MB → zlib.crc32 → write one file', total, () => copyTo(MB, (b, c) => zlib.crc32(b, c)))
  const buf = Buffer.allocUnsafe(64 * MB)
  randomFillSync(buf)
  const passes = 4
  for (const chunk of [64 * 1024, MB]) {
    await time(`crc-32 (JavaScript, archiver's) over ${chunk / 1024} KB chunks`, passes * buf.length, () => {
      for (let p = 0; p < passes; p++) { let c = 0; for (let o = 0; o < buf.length; o += chunk) c = crc32js.buf(buf.subarray(o, o + chunk), c) }
    })
    await time(`zlib.crc32 over ${chunk / 1024} KB chunks`, passes * buf.length, () => {
      for (let p = 0; p < passes; p++) { let c = 0; for (let o = 0; o < buf.length; o += chunk) c = zlib.crc32(buf.subarray(o, o + chunk), c) }
    })
  }
  await time('SHA-256 (the service hashes each entry and the whole zip)', passes * buf.length, () => {
    for (let p = 0; p < passes; p++) createHash('sha256').update(buf).digest()
  })
  await time('deflate level 6, random bytes (attachments)', 16 * MB, () => { zlib.deflateRawSync(buf.subarray(0, 16 * MB), { level: 6 }) })
  const recordsText = await readFile(join(dir, 'records', 'crm-contacts.ndjson'))
  await time(`deflate level 6, NDJSON records (${mb(recordBytes)} MB in all)`, recordsText.length, () => { zlib.deflateRawSync(recordsText, { level: 6 }) })
  for (const chunk of [64 * 1024, MB]) {
    const out = join(dir, 'write-test.bin')
    await time(`write ${mb(passes * buf.length)} MB to a file in ${chunk / 1024} KB chunks`, passes * buf.length, async () => {
      const ws = createWriteStream(out)
      for (let p = 0; p < passes; p++) {
        for (let o = 0; o < buf.length; o += chunk) if (!ws.write(buf.subarray(o, o + chunk))) await once(ws, 'drain')
      }
      ws.end()
      await once(ws, 'finish')
    })
    await rm(out, { force: true })
  }
  console.log('')
}

/** The functions with the most self time in a --cpu-prof profile. */
async function printProfile (label: string, dir: string) {
  const files = (await readdir(dir).catch(() => [])).filter((f) => f.endsWith('.cpuprofile'))
  if (files.length === 0) return
  interface Node { id: number, hitCount?: number, callFrame: { functionName: string, url: string, lineNumber: number } }
  const profile = JSON.parse(await readFile(join(dir, files[0]!), 'utf8')) as { nodes: Node[], startTime: number, endTime: number, samples: number[] }
  // Idle time and module loading (tsx compiles the script at start, before the timed run) are left out.
  const counted = profile.nodes.filter((n) => !/^\((idle|program)\)$/.test(n.callFrame.functionName) &&
    !/^node:internal\/(modules|bootstrap)|\/tsx\/|esbuild/.test(n.callFrame.url))
  const idle = profile.nodes.filter((n) => n.callFrame.functionName === '(idle)').reduce((s, x) => s + (x.hitCount ?? 0), 0)
  const totalHits = counted.reduce((n, x) => n + (x.hitCount ?? 0), 0)
  const byName = new Map<string, number>()
  for (const n of counted) {
    const where = n.callFrame.url ? `${n.callFrame.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/bench\//, 'bench/')}:${n.callFrame.lineNumber + 1}` : ''
    const name = `${n.callFrame.functionName || '(anonymous)'} ${where}`.trim()
    byName.set(name, (byName.get(name) ?? 0) + (n.hitCount ?? 0))
  }
  const allHits = profile.nodes.reduce((n, x) => n + (x.hitCount ?? 0), 0)
  console.log(`== cpu profile: ${label}: self time as a share of busy time, top 10 (idle ${(100 * idle / allHits).toFixed(0)}% of all samples)`)
  for (const [name, hits] of [...byName.entries()].sort((a, b) => b[1] - a[1]).slice(0, 10)) {
    console.log(`  ${(100 * hits / totalHits).toFixed(1).padStart(5)}%  ${name}`)
  }
  console.log('')
}
