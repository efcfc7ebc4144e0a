import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { clientSchemaSource, schemaPath } from '../scripts/client.js'
import { ROOT } from './paths.js'

/**
 * The typed client (clients/typescript) is what `npm run client` makes from the checked-in
 * openapi/openapi.json, and type-checks on its own with --strict. Its use against a running service
 * is test/e2e/client-walkthrough.test.ts.
 */

t.test('clients/typescript/src/schema.ts is generated from openapi/openapi.json', async (t) => {
  const checkedIn = readFileSync(schemaPath, 'utf8')
  t.equal(checkedIn, await clientSchemaSource(),
    'clients/typescript/src/schema.ts is out of date with openapi/openapi.json: run `npm run client` and commit the result')
  t.match(checkedIn, /"\/v1\/requests": \{/, 'it has the paths')
  t.match(checkedIn, /Error: \{[\s\S]*?code: "DSR_VALIDATION_FAILED" \|/, 'an error code is a union of the catalogue\'s codes')
})

t.test('a change to the document changes the client', async (t) => {
  const doc = JSON.parse(readFileSync(join(ROOT, 'openapi/openapi.json'), 'utf8')) as { paths: Record<string, unknown> }
  doc.paths['/v1/something-new'] = { get: { operationId: 'somethingNew', responses: { 204: { description: 'No content' } } } }
  t.not(await clientSchemaSource(JSON.stringify(doc)), readFileSync(schemaPath, 'utf8'))
})

t.test('the client type-checks on its own, strictly (clients/typescript/tsconfig.json)', async (t) => {
  const tsc = join(ROOT, 'node_modules', '.bin', 'tsc')
  const result = await promisify(execFile)(tsc, ['-p', 'clients/typescript', '--strict'], { cwd: ROOT })
    .then(() => ({ code: 0, out: '' }), (e: { code: number, stdout: string }) => ({ code: e.code, out: e.stdout }))
  t.equal(result.code, 0, result.out || 'tsc --strict passes')
})
