import { readFileSync } from 'node:fs'
import type { DbHandle } from '../db/client.js'
import { createSamplesRepository } from '../db/repositories/samples-repository.js'
import { shippedPath } from '../shipped-path.js'

/** connectors/samples sits at the repo root. */
const samplesDir = shippedPath(import.meta.url, '../../connectors/samples', 'connectors.json')

/** The bundled connector file used when CONNECTORS_FILE is not set. */
export const SAMPLE_CONNECTORS_FILE = `${samplesDir}/connectors.json`
/** The sample systems' customer accounts (one managed for a customer) used when neither ACCOUNTS_FILE nor CONNECTORS_FILE is set. */
export const SAMPLE_ACCOUNTS_FILE = `${samplesDir}/accounts.json`
/** The bundled sample company's information (controller, contacts, rights) used when CONTROLLER_FILE is not set. */
export const SAMPLE_CONTROLLER_FILE = `${samplesDir}/controller.json`

/**
 * Creates the sample systems' data in the service's own database, once. Only on the first start:
 * after an erasure the sample person must stay erased across restarts. Sample systems created by
 * an earlier version get the columns added since (upgrade.sql), their rows kept.
 */
export async function ensureSampleData (dbh: DbHandle): Promise<boolean> {
  const samples = createSamplesRepository(dbh)
  if (await samples.isSeeded()) {
    await samples.seed(readFileSync(`${samplesDir}/upgrade.sql`, 'utf8'))
    return false
  }
  await samples.seed(readFileSync(`${samplesDir}/seed.sql`, 'utf8'))
  return true
}
