import { randomBytes } from 'node:crypto'
import t from 'tap'
import postgres from 'postgres'
import { createPostgresConnector } from '../../connectors/postgres/index.js'
import { streamsFor, type PostgresConfig } from '../../connectors/postgres/config.js'
import { sqlClientFromUrl } from '../../connectors/postgres/sql-client.js'
import { postgresConnector } from '../../connectors/postgres/index.js'
import { ADA, BOB, SCHEMA_SQL, SEED_SQL, shopConfig } from '../fixtures/postgres-connector.js'
import { connectorContract, type ContractFixture } from './contract.js'

const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test'
const quiet = { debug () {}, info () {}, warn () {}, error () {} }

/** The shop in a scratch database, with `extraSql` applied and `configure` given the settings. */
async function fixture (extraSql: string, configure: (config: PostgresConfig) => void, extra: (sql: postgres.Sql) => Partial<ContractFixture>): Promise<ContractFixture> {
  const name = `dsr_pgcontract_${randomBytes(6).toString('hex')}`
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} })
  await admin.unsafe(`create database ${name}`)
  const url = new URL(ADMIN_URL)
  url.pathname = `/${name}`
  const seed = postgres(url.toString(), { max: 1, onnotice: () => {} })
  await seed.unsafe(SCHEMA_SQL + SEED_SQL + extraSql)
  const config = shopConfig(url.toString())
  configure(config)
  const emailOf = (data: Record<string, unknown>) => String(data.email ?? '').toLowerCase()
  return {
    connector: createPostgresConnector(config, sqlClientFromUrl(url.toString()), quiet),
    capabilities: postgresConnector.capabilitiesFor!(config),
    streams: streamsFor(config),
    subject: ADA,
    other: BOB,
    // Records carrying an e-mail column are attributable by it; the rest follow from the connector's own test.
    belongsTo: (item, who) => item.type === 'record' && emailOf(item.data) === (who.email ?? '').toLowerCase(),
    ...extra(seed),
    async cleanup () {
      await seed.end()
      await admin.unsafe(`drop database if exists ${name} with (force)`)
      await admin.end()
    }
  }
}

connectorContract(t, 'postgres', () => fixture('', () => {}, () => ({})))

/** Restricting: a flag on customers, a text status on the newsletter (another dataset). */
connectorContract(t, 'postgres (restricting)', () => fixture(`
    alter table crm.customers add column processing_restricted boolean not null default false;
    alter table public.newsletter_subscriptions add column processing text not null default 'active';`,
(config) => {
  config.datasets[0]!.tables[0]!.restrict = { column: 'processing_restricted' }
  config.datasets[1]!.tables[0]!.restrict = { column: 'processing', value: 'restricted', lifted: 'active' }
},
(sql) => ({
  async restrictedOf (who) {
    const email = (who.email ?? '').toLowerCase()
    const [row] = await sql`select
        (select count(*) from crm.customers where lower(email) = ${email} and processing_restricted)
      + (select count(*) from public.newsletter_subscriptions where lower(email) = ${email} and processing = 'restricted') as n`
    return Number(row!.n)
  }
})))

/**
 * Opting out: marketing consent on customers (with when), and on the newsletter (another dataset) a
 * status for marketing and a flag for partner sharing, beside a transactional-mail flag never touched.
 */
connectorContract(t, 'postgres (opting out)', () => fixture(`
    alter table crm.customers add column marketing_consent boolean not null default true, add column consent_withdrawn_at timestamptz;
    alter table public.newsletter_subscriptions add column status text not null default 'subscribed',
      add column share_with_partners boolean not null default true, add column service_emails boolean not null default true;`,
(config) => {
  config.datasets[0]!.tables[0]!.opt_out = { marketing: { column: 'marketing_consent', value: false, opted_in: true, since_column: 'consent_withdrawn_at' } }
  config.datasets[1]!.tables[0]!.opt_out = {
    marketing: { column: 'status', value: 'unsubscribed', opted_in: 'subscribed' },
    partner_sharing: { column: 'share_with_partners' }
  }
},
(sql) => ({
  optOut: {
    purposes: ['marketing', 'partner_sharing'],
    async optedOutOf (who, purpose) {
      const email = (who.email ?? '').toLowerCase()
      const [row] = purpose === 'marketing'
        ? await sql`select
            (select count(*) from crm.customers where lower(email) = ${email} and not marketing_consent and consent_withdrawn_at is not null)
          + (select count(*) from public.newsletter_subscriptions where lower(email) = ${email} and status = 'unsubscribed') as n`
        : await sql`select count(*) as n from public.newsletter_subscriptions where lower(email) = ${email} and not share_with_partners`
      const [untouched] = await sql`select count(*) as n from public.newsletter_subscriptions where not service_emails`
      if (Number(untouched!.n) !== 0) throw new Error('transactional mail was touched')
      return Number(row!.n)
    }
  }
})))
