import t from 'tap'
import { readFileSync } from 'node:fs'
import { ERROR_CATALOGUE, Errors } from '../src/errors.js'
import { withErrorTable } from '../src/cli/docs-errors.js'

t.test("the README's table of error codes is the catalogue's", async (t) => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
  t.equal(readme, withErrorTable(readme), 'README.md is what `npm run docs:errors` writes (run it after changing src/errors.ts)')
})

t.test('the catalogue: one entry per error class, each code once, each with its status and when', async (t) => {
  const codes = ERROR_CATALOGUE.map((e) => e.code)
  t.equal(new Set(codes).size, codes.length, 'no code twice')
  t.equal(codes.length, Object.keys(Errors).length, 'every error class is in the catalogue')
  for (const [name, E] of Object.entries(Errors)) {
    const err = new (E as new (...a: unknown[]) => Error & { code: string, statusCode: number })('x', 'y', 1)
    const entry = ERROR_CATALOGUE.find((e) => e.code === err.code)
    t.ok(entry && entry.status === err.statusCode && entry.when.length > 0, `${name}: ${err.code} ${err.statusCode}`)
    t.match(err.code, /^DSR_[A-Z_]+$/)
  }
})
