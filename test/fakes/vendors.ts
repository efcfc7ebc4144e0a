import { seeded } from './common.js'
import { startHubspotFake } from './hubspot.js'
import { startMailchimpFake } from './mailchimp.js'
import { startZendeskFake } from './zendesk.js'
import { seedWithAdaInReports, startZoomFake } from './zoom.js'

/**
 * The four vendor fakes at once, with Ada in all of them (in Zoom's reports too), and the
 * environment that connectors/samples/vendors.json reads their addresses and secrets from.
 */
export async function startVendorFakes (opts: { fail429Ratio?: number, seed?: number } = {}) {
  const seed = opts.seed ?? 1
  // HubSpot's own 429 names no wait (its clients back off the whole 10 s interval); these also carry
  // the Retry-After that gateways in front of HubSpot add, so that many 429s cost seconds, not minutes.
  const hubspot = await startHubspotFake({ random: seeded(seed), faultRetryAfterSeconds: 1 })
  const zendesk = await startZendeskFake({ random: seeded(seed + 1), faultRetryAfterSeconds: 1 })
  const mailchimp = await startMailchimpFake({ randomSeed: seed + 2 })
  const zoom = await startZoomFake({ seed: seedWithAdaInReports(), randomSeed: seed + 3 })
  const ratio = opts.fail429Ratio ?? 0
  hubspot.state.faults.fail429Ratio = ratio
  zendesk.state.faults.fail429Ratio = ratio
  mailchimp.faults.fail429Ratio = ratio
  zoom.faults.fail429Ratio = ratio
  return {
    hubspot,
    zendesk,
    mailchimp,
    zoom,
    env: {
      HUBSPOT_BASE_URL: hubspot.url,
      HUBSPOT_TOKEN: hubspot.token,
      ZENDESK_BASE_URL: zendesk.url,
      ZENDESK_EMAIL: 'agent@helpdesk.example',
      ZENDESK_API_TOKEN: 'zd-test-token',
      MAILCHIMP_BASE_URL: mailchimp.baseUrl,
      MAILCHIMP_API_KEY: mailchimp.apiKey,
      ZOOM_BASE_URL: zoom.baseUrl,
      ZOOM_TOKEN_URL: zoom.tokenUrl,
      ZOOM_ACCOUNT_ID: zoom.accountId,
      ZOOM_CLIENT_ID: zoom.clientId,
      ZOOM_CLIENT_SECRET: zoom.clientSecret
    },
    close: async () => { await Promise.all([hubspot.close(), zendesk.close(), mailchimp.close(), zoom.close()]) }
  }
}
