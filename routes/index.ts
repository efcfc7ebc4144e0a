import type { FastifyInstance } from 'fastify'
import health from './health/index.js'
import metrics from './metrics.js'
import connectors from './v1/connectors/index.js'
import reports from './v1/reports/index.js'
import requests from './v1/requests/index.js'
import fulfilment from './v1/requests/fulfilment.js'
import verification from './v1/requests/verification.js'
import verificationLinks from './v1/verification-links/index.js'
import decisions from './v1/requests/decisions.js'
import refusalGrounds from './v1/refusal-grounds/index.js'
import holds from './v1/holds/index.js'
import accounts from './v1/accounts/index.js'
import accountParts from './v1/requests/accounts.js'
import extension from './v1/requests/extension.js'
import restriction from './v1/requests/restriction.js'
import requestSuppressions from './v1/requests/suppressions.js'
import suppressions from './v1/suppressions/index.js'
import transfers from './v1/requests/transfers.js'
import callbacks from './v1/requests/callbacks.js'
import archive from './v1/requests/archive.js'
import archiveLinks from './v1/archive-links/index.js'
import receipt from './v1/requests/receipt.js'
import erasurePreview from './v1/requests/erasure-preview.js'
import identity from './v1/requests/identity.js'
import backups from './v1/backups/index.js'
import audit from './v1/audit/index.js'
import requestAudit from './v1/requests/audit.js'
import wellKnown from './well-known.js'
import opendsr from './opendsr/index.js'
import { FLAVOURS } from '../src/domain/opendsr.js'
import root from './root.js'
import consoleRoutes from './console/index.js'
import privacyRoutes from './privacy/index.js'
import errors from './errors.js'

/** Every route plugin with its prefix, listed explicitly so the API surface is reviewable in one place. */
export default async function routes (fastify: FastifyInstance): Promise<void> {
  await fastify.register(health, { prefix: '/health' })
  await fastify.register(errors)
  await fastify.register(metrics)
  await fastify.register(connectors, { prefix: '/v1/connectors' })
  await fastify.register(reports, { prefix: '/v1/reports' })
  await fastify.register(requests, { prefix: '/v1/requests' })
  await fastify.register(fulfilment, { prefix: '/v1/requests' })
  await fastify.register(verification, { prefix: '/v1/requests' })
  await fastify.register(verificationLinks, { prefix: '/v1/verification-links' })
  await fastify.register(decisions, { prefix: '/v1/requests' })
  await fastify.register(erasurePreview, { prefix: '/v1/requests' })
  await fastify.register(identity, { prefix: '/v1/requests' })
  await fastify.register(refusalGrounds, { prefix: '/v1/refusal-grounds' })
  await fastify.register(extension, { prefix: '/v1/requests' })
  await fastify.register(restriction, { prefix: '/v1/requests' })
  await fastify.register(requestSuppressions, { prefix: '/v1/requests' })
  await fastify.register(suppressions, { prefix: '/v1/suppressions' })
  await fastify.register(transfers, { prefix: '/v1/requests' })
  await fastify.register(callbacks, { prefix: '/v1/requests' })
  await fastify.register(archive, { prefix: '/v1/requests' })
  await fastify.register(archiveLinks, { prefix: '/v1/archive-links' })
  await fastify.register(receipt, { prefix: '/v1/requests' })
  await fastify.register(requestAudit, { prefix: '/v1/requests' })
  await fastify.register(backups, { prefix: '/v1/backups' })
  await fastify.register(holds, { prefix: '/v1/holds' })
  await fastify.register(accounts, { prefix: '/v1/accounts' })
  await fastify.register(accountParts, { prefix: '/v1/requests' })
  await fastify.register(audit, { prefix: '/v1/audit' })
  await fastify.register(opendsr, { prefix: FLAVOURS.v2.prefix, flavour: 'v2' })
  await fastify.register(opendsr, { prefix: FLAVOURS.v1.prefix, flavour: 'v1' })
  await fastify.register(wellKnown)
  await fastify.register(root)
  // The operator console: its own plugins (form bodies, session, anti-forgery, CSP) stay inside it.
  await fastify.register(consoleRoutes)
  // The privacy centre for people: likewise its own form bodies, rate limits and CSP.
  await fastify.register(privacyRoutes)
}
