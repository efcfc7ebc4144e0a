/**
 * The service against local stand-ins for HubSpot, Zendesk, Mailchimp and Zoom (the stateful fakes
 * the test suite uses, which follow each vendor's published API and rate limits), plus the sample
 * test-result store: `npm run sandbox`. The connector file is connectors/samples/vendors.json, the
 * same file a company fills with its own accounts' addresses and secrets.
 *
 * The fakes keep their data in memory: every start begins with the same fictional people. The
 * service's own database is embedded under .data/sandbox unless DATA_DIR or DATABASE_URL says otherwise.
 * SANDBOX_429_RATIO=0.5 makes every fake answer half of all calls with its vendor's 429.
 */
import { startVendorFakes } from '../test/fakes/vendors.js'
import { shippedPath } from '../src/shipped-path.js'

const ratio = Number(process.env.SANDBOX_429_RATIO ?? 0)
if (!(ratio >= 0 && ratio < 1)) {
  process.stderr.write('SANDBOX_429_RATIO must be a number from 0 up to (not including) 1\n')
  process.exit(78)
}

const { hubspot, zendesk, mailchimp, zoom, env } = await startVendorFakes({ fail429Ratio: ratio })
Object.assign(process.env, env, { CONNECTORS_FILE: shippedPath(import.meta.url, '../connectors/samples/vendors.json') })
if (!process.env.DATABASE_URL && !process.env.DATA_DIR) process.env.DATA_DIR = '.data/sandbox'

process.stdout.write([
  'Vendor stand-ins (in memory; reset at every start):',
  `  HubSpot    ${hubspot.url}`,
  `  Zendesk    ${zendesk.url}`,
  `  Mailchimp  ${mailchimp.baseUrl}`,
  `  Zoom       ${zoom.baseUrl}`,
  ratio > 0 ? `  each answers ${Math.round(ratio * 100)}% of calls with its 429` : '',
  ''
].filter((line) => line !== '').join('\n') + '\n')

await import('../src/server.js')
