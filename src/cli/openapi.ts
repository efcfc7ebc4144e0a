import { mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { openApiDocument } from '../openapi.js'

/** Writes openapi/openapi.json from the routes. CI compares it with the checked-in file. */
const target = fileURLToPath(new URL('../../openapi/openapi.json', import.meta.url))
mkdirSync(fileURLToPath(new URL('../../openapi/', import.meta.url)), { recursive: true })
writeFileSync(target, await openApiDocument())
process.stdout.write('openapi/openapi.json written\n')
