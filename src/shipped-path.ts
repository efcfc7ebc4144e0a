import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * A file or folder that ships beside the code instead of being compiled into it (migrations, sample
 * data, the OpenAPI document), by its path from the asking module (`import.meta.url`) through the
 * repository's root (`../../drizzle` from src/db/client.ts). Compiled code runs one folder deeper
 * (`dist/src/…`, or the suite's `build/src/…`), so the same path one level further up is tried next.
 * `marker`, a file inside a folder, tells the right one (the compiled tree may hold a folder of the
 * same name with only what tsc emitted).
 */
export function shippedPath (moduleUrl: string, relative: string, marker = ''): string {
  const [source, compiled] = [relative, `../${relative}`].map((rel) => fileURLToPath(new URL(rel, moduleUrl))) as [string, string]
  return existsSync(join(source, marker)) || !existsSync(join(compiled, marker)) ? source : compiled
}
