import { sql } from 'drizzle-orm'
import type { DbHandle } from '../client.js'

/** The sample systems' data, kept in schemas of their own (sample_crm and the rest) in the service's database. */
export function createSamplesRepository (dbh: DbHandle) {
  return {
    /** Whether the sample data was created already: its sample_crm schema exists. */
    async isSeeded (): Promise<boolean> {
      const [exists] = await dbh.rows<{ present: boolean }>(sql`
        select exists (select 1 from pg_namespace where nspname = 'sample_crm') as present`)
      return exists?.present ?? false
    },

    /** Runs the seed script, several statements in one text, on one connection. */
    async seed (script: string): Promise<void> {
      await dbh.executor.executeSql(script)
    }
  }
}

export type SamplesRepository = ReturnType<typeof createSamplesRepository>
