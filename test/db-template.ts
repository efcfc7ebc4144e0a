import { createHash } from 'node:crypto'
import { readFileSync, readdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import type postgres from 'postgres'
import { migrationsFolder, openDb } from '../src/db/client.js'
import { ARCHIVE_QUEUE, IDENTIFY_QUEUE, TRANSFER_QUEUE, createBoss } from '../src/jobs/queue.js'

/**
 * A migrated database on the Postgres server for test files to copy (`create database … template`):
 * the service's migrations applied, pg-boss's schema installed and the queues every engine creates at
 * start. A copy takes a fraction of migrating a new database and installing pg-boss in it, which
 * every test file building an app on Postgres did. Named by a hash of the migrations and pg-boss's
 * version, so a change to either makes a new one; made once, by whichever test process needs it
 * first (the others wait on an advisory lock), and older ones are dropped then.
 */
const LOCK = 0x64737274 // an advisory lock key of its own ('dsrt')

function templateName (): string {
  const hash = createHash('sha256')
  for (const file of readdirSync(migrationsFolder).filter((f) => f.endsWith('.sql')).sort()) hash.update(file).update(readFileSync(join(migrationsFolder, file)))
  hash.update(readFileSync(join(migrationsFolder, 'meta', '_journal.json')))
  hash.update((createRequire(import.meta.url)('pg-boss/package.json') as { version: string }).version)
  return `dsr_template_${hash.digest('hex').slice(0, 16)}`
}

/** The template's name, made first if it does not exist yet. `admin` is a one-connection client of the server. */
export async function postgresTemplate (admin: postgres.Sql, adminUrl: string): Promise<string> {
  const name = templateName()
  await admin`select pg_advisory_lock(${LOCK})`
  try {
    const [exists] = await admin`select 1 from pg_database where datname = ${name}`
    if (exists) return name
    const building = `${name}_${process.pid}`
    await admin.unsafe(`drop database if exists ${building}`)
    await admin.unsafe(`create database ${building}`)
    const url = new URL(adminUrl)
    url.pathname = `/${building}`
    const dbh = await openDb({ url: url.toString(), maxConnections: 2 })
    try {
      await dbh.migrate()
      const boss = createBoss(dbh, { supervise: false, schedule: false })
      await boss.start()
      for (const queue of [TRANSFER_QUEUE, ARCHIVE_QUEUE, IDENTIFY_QUEUE]) await boss.createQueue(queue)
      await boss.stop({ graceful: false, wait: true })
      await boss.releaseConnection()
    } finally {
      await dbh.close()
    }
    await admin.unsafe(`alter database ${building} rename to ${name}`)
    // Templates of earlier migrations: dropped unless a suite still copies one (then left for later).
    for (const { datname } of await admin<Array<{ datname: string }>>`select datname from pg_database where datname like 'dsr\_template\_%' and datname <> ${name}`) {
      await admin.unsafe(`drop database if exists ${datname}`).catch(() => {})
    }
    return name
  } finally {
    await admin`select pg_advisory_unlock(${LOCK})`
  }
}
