import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, rmSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * Compiles the repository with tsc into build/ (tsconfig.test.json: sources and tests, with source
 * maps), the tree `npm test` runs. Each test file is a process of its own: run from compiled
 * JavaScript, none of them transpiles the service again on load. tsc type-checks as it compiles, so a
 * type error stops the suite before it starts. Incremental: an unchanged tree compiles in seconds.
 * What tsc wrote for a source file since removed is removed too, so no stale test runs.
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const OUT = join(ROOT, 'build')

execFileSync(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.test.json'], { cwd: ROOT, stdio: 'inherit' })

let removed = 0
const prune = (dir: string): void => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) { prune(path); continue }
    const emitted = /^(.*)\.js(\.map)?$/.exec(entry.name)
    if (!emitted) continue
    const source = join(ROOT, relative(OUT, dir), `${emitted[1]}.ts`)
    if (!existsSync(source)) { rmSync(path); removed++ }
  }
}
prune(OUT)
if (removed > 0) process.stdout.write(`build/: ${removed} file(s) of removed sources deleted\n`)
