import t from 'tap'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { CODE_ROOT, COMPILED, ROOT } from './paths.js'

/**
 * Every module of the service loads on its own, so each also appears in the coverage report even
 * when no other test reaches it (tap reports only the files a test loads). Entry points that act
 * when loaded are named and left out; their own tests run them as processes (test/cli.test.ts,
 * test/embedded.test.ts).
 */
const ENTRY_POINTS = new Set([
  'src/server.ts', // starts the service
  'src/cli/migrate.ts', // migrates and exits
  'src/cli/openapi.ts', // writes openapi/openapi.json and exits
  'connectors/test-results/migrate.ts' // migrates the test-result store and exits
])

function sources (dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(join(ROOT, path)).isDirectory()) return sources(path)
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : []
  })
}

const files = ['src', 'routes', 'connectors'].flatMap(sources).filter((f) => !ENTRY_POINTS.has(f))
t.ok(files.length > 100, `${files.length} modules`)
for (const file of files) {
  const mod = await import(pathToFileURL(join(CODE_ROOT, COMPILED ? file.replace(/\.ts$/, '.js') : file)).href) as Record<string, unknown>
  t.ok(Object.keys(mod).length > 0, `${file} loads and exports something`)
}
