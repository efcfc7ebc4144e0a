import { join } from 'node:path'

/**
 * Where things are, whether the suite runs from its TypeScript sources (a single file, through tsx:
 * scripts/tap-typescript.mjs) or compiled (`npm test` compiles the repository to `build/` with tsc and runs
 * `build/test/**`: no file is transpiled again by each test process).
 */

/** Whether this suite runs compiled. */
export const COMPILED = import.meta.url.endsWith('.js')

/** The tree the code under test is loaded from: the repository, or its compiled copy in `build/`. */
export const CODE_ROOT = join(import.meta.dirname, '..')

/** The repository: its README, migrations, sample data, OpenAPI document and package files. */
export const ROOT = COMPILED ? join(CODE_ROOT, '..') : CODE_ROOT

/** tsx, by absolute location (a process may start in a working directory of its own). */
const TSX = import.meta.resolve('tsx')

/** A path in the repository. */
export const fromRoot = (...parts: string[]): string => join(ROOT, ...parts)

/**
 * The node arguments that run one of the repository's TypeScript entry points (`src/server.ts`,
 * `src/cli/migrate.ts`, …) as a process: its compiled copy when the suite runs compiled (as
 * `npm start` runs the service), through tsx otherwise. Paths are absolute, so the process may
 * start in any working directory.
 */
export function nodeArgs (script: string): string[] {
  if (!script.endsWith('.ts')) throw new Error(`not a TypeScript entry point: ${script}`)
  return COMPILED ? [join(CODE_ROOT, script.replace(/\.ts$/, '.js'))] : ['--import', TSX, join(ROOT, script)]
}
