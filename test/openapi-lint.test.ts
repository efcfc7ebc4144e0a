import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile, copyFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { ROOT } from './paths.js'

/**
 * openapi/openapi.json passes both linters with no error and no warning: Redocly's recommended
 * ruleset (redocly.yaml, .redocly.lint-ignore.yaml) and Spectral's spectral:oas (.spectral.yaml).
 * Each also lints a copy with a fault in it, to show it is really looking.
 */
const run = promisify(execFile)
const bin = (name: string) => join(ROOT, 'node_modules', '.bin', name)
// No telemetry, no update notice: the linters run offline in CI.
const env = { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', SCARF_ANALYTICS: 'false', NO_COLOR: '1' }

interface Counts { errors: number, warnings: number, summary: string[] }

async function redocly (file: string, cwd: string): Promise<Counts> {
  // Exit code 1 when there are errors: the JSON on stdout is read either way.
  const { stdout } = await run(bin('redocly'), ['lint', file, '--format=json'], { cwd, env, maxBuffer: 32 << 20 }).catch((e: { stdout: string }) => e)
  const report = JSON.parse(stdout) as { totals: { errors: number, warnings: number }, problems: Array<{ ruleId: string, location?: Array<{ pointer?: string }> }> }
  return { ...report.totals, summary: report.problems.map((p) => `${p.ruleId} ${p.location?.[0]?.pointer ?? ''}`) }
}

async function spectral (file: string, cwd: string): Promise<Counts> {
  // Its JSON goes to a file: on stdout a sentence follows it when there are no errors.
  const out = join(await mkdtemp(join(tmpdir(), 'spectral-')), 'report.json')
  await run(bin('spectral'), ['lint', file, '-f', 'json', '-o', out, '--ruleset', join(ROOT, '.spectral.yaml')], { cwd, env, maxBuffer: 32 << 20 })
    .catch(() => undefined) // exit code 1 on errors: the report says which
  const results = JSON.parse(await readFile(out, 'utf8')) as Array<{ code: string, severity: number, path: string[] }>
  await rm(join(out, '..'), { recursive: true, force: true })
  return {
    errors: results.filter((r) => r.severity === 0).length,
    warnings: results.filter((r) => r.severity === 1).length,
    summary: results.map((r) => `${r.code} ${r.path.join('.')}`)
  }
}

t.test('openapi/openapi.json: Redocly and Spectral find nothing', async (t) => {
  const [r, s] = await Promise.all([redocly('openapi/openapi.json', ROOT), spectral('openapi/openapi.json', ROOT)])
  t.same({ errors: r.errors, warnings: r.warnings }, { errors: 0, warnings: 0 }, 'redocly lint: 0 errors, 0 warnings')
  if (r.summary.length) t.comment(r.summary.join('\n'))
  t.same({ errors: s.errors, warnings: s.warnings }, { errors: 0, warnings: 0 }, 'spectral lint: 0 errors, 0 warnings')
  if (s.summary.length) t.comment(s.summary.join('\n'))
})

t.test('both report a fault put into a copy', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'openapi-lint-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const doc = JSON.parse(await readFile(join(ROOT, 'openapi/openapi.json'), 'utf8')) as { paths: Record<string, Record<string, Record<string, unknown>>> }
  delete doc.paths['/v1/requests/{id}']!.get!.description
  delete doc.paths['/v1/requests/{id}']!.get!.security
  await writeFile(join(dir, 'openapi.json'), JSON.stringify(doc))
  await copyFile(join(ROOT, 'redocly.yaml'), join(dir, 'redocly.yaml'))
  const [r, s] = await Promise.all([redocly('openapi.json', dir), spectral('openapi.json', dir)])
  t.ok(r.summary.some((p) => p.startsWith('security-defined')), 'redocly: an operation without security')
  t.ok(s.summary.some((p) => p.startsWith('operation-description')), 'spectral: an operation without a description')
})
