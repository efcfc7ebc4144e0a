import { randomBytes } from 'node:crypto'
import t from 'tap'
import postgres from 'postgres'
import { createPostgresConnector } from '../../connectors/postgres/index.js'
import { streamsFor } from '../../connectors/postgres/config.js'
import { sqlClientFromUrl } from '../../connectors/postgres/sql-client.js'
import { postgresConnector } from '../../connectors/postgres/index.js'
import { ADA, BOB, SCHEMA_SQL, SEED_SQL, shopConfig } from '../fixtures/postgres-connector.js'
import { connectorContract } from './contract.js'

const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test'
const quiet = { debug () {}, info () {}, warn () {}, error () {} }

connectorContract(t, 'postgres', async () => {
  const name = `dsr_pgcontract_${randomBytes(6).toString('hex')}`
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} })
  await admin.unsafe(`create database ${name}`)
  const url = new URL(ADMIN_URL)
  url.pathname = `/${name}`
  const seed = postgres(url.toString(), { max: 1, onnotice: () => {} })
  await seed.unsafe(SCHEMA_SQL + SEED_SQL)
  await seed.end()
  const config = shopConfig(url.toString())
  const emailOf = (data: Record<string, unknown>) => String(data.email ?? '').toLowerCase()
  return {
    connector: createPostgresConnector(config, sqlClientFromUrl(url.toString()), quiet),
    capabilities: postgresConnector.capabilities,
    streams: streamsFor(config),
    subject: ADA,
    other: BOB,
    // Records carrying an e-mail column are attributable by it; the rest follow from the connector's own test.
    belongsTo: (item, who) => item.type === 'record' && emailOf(item.data) === (who.email ?? '').toLowerCase(),
    async cleanup () {
      await admin.unsafe(`drop database if exists ${name} with (force)`)
      await admin.end()
    }
  }
})
