import t from 'tap'
import { readFileSync } from 'node:fs'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { catalogued, DsrError, ERROR_CATALOGUE, Errors, JobErrors } from '../src/errors.js'
import { withErrorTable } from '../src/cli/docs-errors.js'
import { toApiError } from '../src/plugins/external/errors.js'
import { ConnectorErrorCodes } from '../connectors/types.js'

t.test("the README's table of error codes is the catalogue's", async (t) => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
  t.equal(readme, withErrorTable(readme), 'README.md is what `npm run docs:errors` writes (run it after changing src/errors.ts)')
})

t.test('the catalogue: one entry per error class, each code once, each with its status and when', async (t) => {
  const codes = ERROR_CATALOGUE.map((e) => e.code)
  t.equal(new Set(codes).size, codes.length, 'no code twice')
  t.equal(codes.length, Object.keys(Errors).length + Object.keys(JobErrors).length + Object.keys(ConnectorErrorCodes).length,
    'every error class and every connector code is in the catalogue, and nothing else')
  for (const [name, E] of Object.entries(Errors)) {
    const err = new (E as new (...a: unknown[]) => Error & { code: string, statusCode: number })('x', 'y', 1)
    const entry = catalogued(err.code)
    t.ok(entry && entry.status === err.statusCode && entry.when.length > 0, `${name}: ${err.code} ${err.statusCode}`)
    t.ok(err instanceof DsrError && err instanceof E, `${name} is recognised with instanceof`)
    t.equal(E.code, err.code, `${name}.code names its code`)
    t.match(err.code, /^DSR_[A-Z_]+$/)
  }
  for (const [name, E] of Object.entries(JobErrors)) {
    const err = new (E as new (...a: unknown[]) => Error & { code: string })('x')
    const entry = catalogued(err.code)
    t.ok(entry && entry.status === null && entry.on.length > 0 && entry.when.length > 0, `${name}: ${err.code}, recorded on ${entry?.on.join(', ')}`)
    t.ok(err instanceof DsrError && err instanceof E, `${name} is recognised with instanceof`)
  }
  for (const code of Object.values(ConnectorErrorCodes)) {
    const entry = catalogued(code)
    t.ok(entry && entry.on.includes('task') && typeof entry.retryable === 'boolean', `connector code ${code} is catalogued, with whether it is retried`)
  }
})

t.test('every DSR_ code written in the source is one of the catalogue', async (t) => {
  const root = fileURLToPath(new URL('..', import.meta.url))
  const found = new Set<string>()
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name)
      if (e.isDirectory()) walk(path)
      else if (e.name.endsWith('.ts')) for (const m of readFileSync(path, 'utf8').matchAll(/['`"](DSR_[A-Z0-9_]+)['`"]/g)) found.add(m[1]!)
    }
  }
  for (const dir of ['src', 'connectors', 'routes']) walk(join(root, dir))
  t.ok(found.size > 30, `${found.size} codes written in src/, connectors/ and routes/`)
  t.same([...found].filter((code) => !catalogued(code)), [], 'none outside the catalogue')
})

t.test('the API answers the code of one of our errors, never a code an error of another kind happens to carry', async (t) => {
  t.match(toApiError(new Errors.RequestNotFound('x') as never), { statusCode: 404, code: 'DSR_REQUEST_NOT_FOUND' })
  const foreign = Object.assign(new Error('a library error that looks like ours'), { code: 'DSR_REQUEST_NOT_FOUND', statusCode: 404 })
  t.match(toApiError(foreign as never), { statusCode: 404, code: 'DSR_BAD_REQUEST' }, 'recognised by class, not by the prefix of its code')
  t.match(toApiError(new JobErrors.ArchiveUnreadable('x') as never), { statusCode: 500, code: 'DSR_INTERNAL', message: 'Internal error' }, 'a job error reaching the API is internal')
})
