import { readFileSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import postgres from 'postgres'
import { shippedPath } from '../../src/shipped-path.js'

/** The migrations, in name order (NNNN_name.sql). */
export const MIGRATIONS_DIR = shippedPath(import.meta.url, '../../connectors/test-results/migrations/', '0001_init.sql')

/**
 * Applies the test-result store's migrations that are not yet applied, each in its own transaction,
 * recorded in `test_results_migrations` (public schema). Safe to run again; returns what it applied.
 */
export async function migrateTestResults (url: string, dir = MIGRATIONS_DIR): Promise<string[]> {
  const sql = postgres(url, { max: 1, onnotice: () => {} })
  try {
    await sql`create table if not exists public.test_results_migrations (name text primary key, applied_at timestamptz not null default now())`
    // One migrator at a time.
    return await sql.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(hashtext('test_results_migrations'))`
      const done = new Set((await tx<Array<{ name: string }>>`select name from public.test_results_migrations`).map((r) => r.name))
      const applied: string[] = []
      for (const file of readdirSync(dir).filter((f) => /^\d{4}_.+\.sql$/.test(f)).sort()) {
        if (done.has(file)) continue
        await tx.unsafe(readFileSync(`${dir}/${file}`, 'utf8'))
        await tx`insert into public.test_results_migrations (name) values (${file})`
        applied.push(file)
      }
      return applied
    })
  } finally {
    await sql.end()
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const url = process.env.TEST_RESULTS_DATABASE_URL
  if (!url) {
    console.error('TEST_RESULTS_DATABASE_URL is not set (postgres://user@host:5432/db of the test-result store)')
    process.exit(78)
  }
  migrateTestResults(url).then((applied) => {
    console.log(applied.length > 0 ? `applied: ${applied.join(', ')}` : 'up to date')
  }, (err: unknown) => {
    console.error(`migration failed: ${(err as { code?: string }).code ?? (err as Error).message}`)
    process.exit(1)
  })
}
