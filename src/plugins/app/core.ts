import fp from 'fastify-plugin'
import { createSmtpNotifier } from '../../notify/smtp.js'
import type { Notifier } from '../../notify/notifier.js'
import type { Config } from '../../config.js'
import type { DbHandle } from '../../db/client.js'
import type { KeyRecord } from '../../services/api-keys.js'
import type { ConnectorRegistry } from '../../connectors/registry.js'
import type { BlobStore } from '../../storage/blob-store.js'
import { createKeyring, type Keyring } from '../../receipts/keys.js'
import { transferSettings } from '../../transfers/settings.js'
import type { TransferSettings } from '../../transfers/settings.js'
import type { HostResolver } from '../../transfers/addresses.js'
import { callbackSettings, type CallbackSettings } from '../../callbacks/settings.js'
import { openDsrSigner, type OpenDsrSigner } from '../../opendsr/signing.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    dbh: DbHandle
    apiKeys: ReadonlyMap<string, KeyRecord>
    connectors: ConnectorRegistry
    storage: BlobStore
    /** The keys that sign erasure receipts, hash identifiers and seal tombstones: one, shared, loaded once. */
    keyring: Keyring
    /** Where direct transfers may go and how they are sent (TRANSFER_* settings, and the resolver they check with). */
    transferSettings: TransferSettings
    /** Where status callbacks may go, how they are signed and retried (CALLBACK_* settings, and the resolver they check with). */
    callbackSettings: CallbackSettings
    /** The OpenDSR facade's certificate and key (OPENDSR_* settings); null when it is not configured. */
    opendsrSigner: OpenDsrSigner | null
    /** E-mail to people (SMTP_URL): verification codes, administrators of managed accounts; null when not configured. */
    notifier: Notifier | null
  }
}

export interface CoreOptions {
  config: Config
  dbh: DbHandle
  apiKeys: ReadonlyMap<string, KeyRecord>
  registry: ConnectorRegistry
  storage: BlobStore
  /** DNS for direct transfers and status callbacks; the system resolver by default (tests play DNS with their own). */
  resolveHost?: HostResolver
}

/** What every service is built from: the configuration, the database, the API keys, the connectors, storage and keys. */
export default fp<CoreOptions>(async function core (fastify, opts) {
  fastify.decorate('config', opts.config)
  fastify.decorate('dbh', opts.dbh)
  fastify.decorate('apiKeys', opts.apiKeys)
  fastify.decorate('connectors', opts.registry)
  fastify.decorate('storage', opts.storage)
  fastify.decorate('keyring', createKeyring({ dbh: opts.dbh, config: opts.config }))
  fastify.decorate('transferSettings', transferSettings(opts.config, opts.resolveHost))
  fastify.decorate('callbackSettings', callbackSettings(opts.config, opts.resolveHost))
  fastify.decorate('opendsrSigner', openDsrSigner(opts.config).signer)
  const notifier = opts.config.SMTP_URL ? createSmtpNotifier({ url: opts.config.SMTP_URL, from: opts.config.MAIL_FROM }) : null
  if (notifier) fastify.addHook('onClose', async () => notifier.close())
  fastify.decorate('notifier', notifier)
}, { name: 'core' })
