import type { FastifyBaseLogger } from 'fastify'
import type { LinkSigner } from '../archive/links.js'
import type { ControllerInfo } from '../archive/controller.js'
import { controllerFacts, type FactGroup } from '../archive/information.js'
import type { ConnectorRegistry } from '../connectors/registry.js'
import { inLanguage, type Language } from '../connectors/texts.js'
import type { RequestStatus } from '../domain/lifecycle.js'
import { DsrError, Errors } from '../errors.js'
import type { Notifier } from '../notify/notifier.js'
import { fill, type CentreRight, type Phase, type PrivacyCentreConfig } from '../privacy-centre/texts.js'
import type { ArchivesService } from './archives-service.js'
import type { Principal, RequestsService } from './requests-service.js'
import type { VerificationService } from './verification-service.js'

/** Who makes the centre's requests and links, on the audit trail. */
export const CENTRE_ACTOR = 'privacy-centre'
const CENTRE: Principal = { name: CENTRE_ACTOR, scopes: [] }
const DAY = 86_400_000
/** A status link's id is its kind and the request's: no signature of an archive link is valid for it. */
const statusId = (requestId: string) => `privacy-status:${requestId}`

const PHASE: Record<RequestStatus, Phase> = {
  received: 'confirming',
  verifying: 'confirming',
  ready: 'in_progress',
  awaiting_approval: 'in_progress',
  awaiting_controller: 'in_progress',
  in_progress: 'in_progress',
  on_hold: 'in_progress',
  completed: 'completed',
  partially_completed: 'partly_done',
  failed: 'partly_done',
  rejected: 'rejected',
  cancelled: 'cancelled'
}

/** What the status page shows: nothing of the person's data, only where their request stands. */
export interface StatusView {
  requestId: string
  type: string
  phase: Phase
  receivedAt: Date
  dueAt: Date
  extension: { until: Date, reason: string | null } | null
  refusal: { explanation: string, provision: string } | null
  /** For a copy of the data: none yet (being gathered or built), ready to download, or gone (retention). */
  archive: 'pending' | 'ready' | 'expired' | null
}

/** Which systems hold personal data and why, per system and stream (Art 15(1)(a)–(d), (g)), in one language. */
export interface SystemInfo { name: string, streams: Array<{ title: string, purposes: string[], recipients: string[], retention: string, source: string | null }> }

/**
 * The privacy centre (/privacy): a person asks for a right with an e-mail address, confirms it through
 * the e-mailed link, then follows it through a signed status link and downloads their data through a
 * signed archive link. Until the link is confirmed nothing tells whether the address is known: a
 * request is stored and a link e-mailed for every address alike, and the person's systems are only
 * searched after confirmation. Everything goes through the same services, rules and audit as the API.
 */
export function createPrivacyCentreService (deps: {
  centre: PrivacyCentreConfig
  requests: Pick<RequestsService, 'create' | 'get'>
  verification: Pick<VerificationService, 'start' | 'confirmLink'>
  archives: Pick<ArchivesService, 'createLink'>
  signer: LinkSigner
  notifier: Notifier
  controller: ControllerInfo
  registry: ConnectorRegistry
  publicUrl: string
  /** How long a status link stays valid after the request's deadline: as long as the request keeps the person's identifiers. */
  statusLinkDaysAfterDue: number
  log: FastifyBaseLogger
  now?: () => Date
}) {
  const now = deps.now ?? (() => new Date())
  const { centre } = deps

  /** The signed status link of a request, valid until its record of the person goes. */
  function statusPath (requestId: string, dueAt: Date, language: Language): string {
    const expiresAt = new Date(Math.max(dueAt.getTime(), now().getTime()) + deps.statusLinkDaysAfterDue * DAY)
    const { exp, sig } = deps.signer.sign(statusId(requestId), expiresAt)
    return `/privacy/status/${requestId}?exp=${exp}&sig=${sig}&lang=${encodeURIComponent(language)}`
  }

  /** E-mails the person the status link of a request they already confirmed. */
  async function sendStatusLink (to: string, requestId: string, dueAt: Date, language: Language): Promise<void> {
    const texts = centre.texts[language]!
    const link = `${deps.publicUrl}${statusPath(requestId, dueAt, language)}`
    await deps.notifier.send({ to, subject: texts.statusEmailSubject, text: fill(texts.statusEmailBody, { link }) })
  }

  return {
    /**
     * A person asks for `type` with `email`. Answers nothing: whatever is known of the address, the
     * person is told the same (the page says so). A confirmation link is e-mailed; for an address with
     * the same request already confirmed and open (merged by DUPLICATE_POLICY), its status link instead.
     * Refusals that would tell something (a duplicate refused) are logged by code and not answered.
     */
    async submit (type: CentreRight, email: string, language: Language): Promise<void> {
      let requestId: string
      let status: RequestStatus
      let dueAt: Date
      try {
        const created = await deps.requests.create({
          type,
          subject: { email },
          regime: centre.regime,
          ...(centre.jurisdiction ? { jurisdiction: centre.jurisdiction } : {}),
          channel: 'web_form',
          requester: { kind: 'subject' }
        }, CENTRE)
        requestId = created.request.id
        status = created.request.status
        dueAt = new Date(created.request.effective_due_at)
      } catch (err) {
        // DUPLICATE_POLICY refuse: the open request is the one to follow.
        const open = err instanceof DsrError && err.code === Errors.DuplicateRequest.code ? (err as { openRequestId?: string }).openRequestId : undefined
        if (!open) throw err
        const request = await deps.requests.get(open)
        requestId = open
        status = request.status
        dueAt = new Date(request.effective_due_at)
      }
      if (status === 'received' || status === 'verifying') {
        try {
          await deps.verification.start(requestId, CENTRE_ACTOR, now(), { path: '/privacy/confirm', query: `&lang=${encodeURIComponent(language)}`, language })
          return
        } catch (err) {
          // Confirmed meanwhile (the person's other tab): the status link below.
          if (!(err instanceof DsrError && err.code === Errors.IllegalTransition.code)) throw err
        }
      }
      deps.log.info({ requestId }, 'privacy centre: the same request is open and confirmed; its status link is e-mailed')
      await sendStatusLink(email, requestId, dueAt, language)
    },

    /** The e-mailed link was confirmed: fulfilment starts, the status link is e-mailed, and returned for the page to go to. */
    async confirm (token: string, language: Language): Promise<string> {
      const requestId = await deps.verification.confirmLink(token)
      const request = await deps.requests.get(requestId)
      const dueAt = new Date(request.effective_due_at)
      const email = request.subject.email
      if (email) {
        // The page leads there too: a relay that fails now loses nothing but the copy in the mailbox.
        await sendStatusLink(email, requestId, dueAt, language).catch((err: unknown) => {
          deps.log.warn({ requestId, reason: (err as { reason?: string }).reason ?? 'error' }, 'privacy centre: status link e-mail not sent')
        })
      }
      return statusPath(requestId, dueAt, language)
    },

    /** Checks a status link; 403 DSR_STATUS_LINK_INVALID or DSR_STATUS_LINK_EXPIRED. */
    checkStatusLink (requestId: string, exp: string | undefined, sig: string | undefined): void {
      if (exp === undefined || sig === undefined) throw new Errors.StatusLinkInvalid()
      const verdict = deps.signer.verify(statusId(requestId), exp, sig, now())
      if (verdict === 'invalid') throw new Errors.StatusLinkInvalid()
      if (verdict === 'expired') throw new Errors.StatusLinkExpired()
    },

    /** Where the request stands, for a checked status link. */
    async status (requestId: string): Promise<StatusView> {
      const r = await deps.requests.get(requestId)
      const copy = r.type === 'access' || r.type === 'portability'
      return {
        requestId,
        type: r.type,
        phase: PHASE[r.status],
        receivedAt: new Date(r.received_at),
        dueAt: new Date(r.effective_due_at),
        // The reason is the person's once they were told of the extension (GDPR Art 12(3)).
        extension: r.extension ? { until: new Date(r.effective_due_at), reason: r.extension.notified_subject_at ? r.extension.reason : null } : null,
        refusal: r.refusal ? { explanation: r.refusal.explanation, provision: r.refusal.provision } : null,
        archive: !copy || PHASE[r.status] === 'rejected' || PHASE[r.status] === 'cancelled'
          ? null
          : r.archive?.status === 'ready' ? 'ready' : r.archive?.status === 'expired' ? 'expired' : 'pending'
      }
    },

    /** A fresh signed archive link for a checked status link (each one audited on the request). */
    async downloadLink (requestId: string): Promise<string> {
      return (await deps.archives.createLink(requestId, `${CENTRE_ACTOR}:status-link`)).url
    },

    /** The company-wide information (who, contacts, rights, complaints), from CONTROLLER_FILE. */
    about (language: Language): FactGroup[] {
      return controllerFacts(deps.controller, language)
    },

    /** How to use a right the centre does not take itself (CONTROLLER_FILE's rights). */
    howTo (right: 'rectification', language: Language): string {
      return inLanguage(deps.controller.rights[right], language)
    },

    /** Each system's streams with why and how long (the connector file's processing information). */
    systems (language: Language): SystemInfo[] {
      const t = (text: Parameters<typeof inLanguage>[0]) => inLanguage(text, language)
      return [...deps.registry.values()].map((c) => ({
        name: c.displayName,
        streams: c.streams.map((s) => ({
          title: s.processing.title ? t(s.processing.title) : s.name,
          purposes: s.processing.purposes.map(t),
          recipients: s.processing.recipients.map(t),
          retention: t(s.processing.retention.rule),
          source: s.processing.source ? t(s.processing.source) : null
        }))
      })).filter((c) => c.streams.length > 0)
    }
  }
}

export type PrivacyCentreService = ReturnType<typeof createPrivacyCentreService>
