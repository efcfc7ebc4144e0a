import { Type, type Static, type TSchema } from 'typebox'
import { ErrorSchema, ref } from './common.js'
import { IDENTITY_FORMATS, IDENTITY_TYPES, OPENDSR_STATUSES, REGULATIONS, SUBJECT_REQUEST_TYPES } from '../domain/opendsr.js'

/** The OpenDSR 2.0 objects (github.com/opengdpr/OpenDSR, specification.md), field for field. */

const dateTime = (description: string) => Type.String({ format: 'date-time', description })
/** §1.1: GUIDs are lower-case version 4. */
const SubjectRequestId = Type.String({
  pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$',
  description: 'UUID v4, lower case, made by the controller (§7.1.1)'
})

export const OpenDsrIdentitySchema = Type.Object({
  identity_type: Type.Enum([...IDENTITY_TYPES]),
  identity_value: Type.String({ minLength: 1, maxLength: 256 }),
  identity_format: Type.Enum([...IDENTITY_FORMATS])
}, { $id: 'OpenDsrIdentity', additionalProperties: false, description: '§5.3; discovery lists the type and format pairs this processor accepts' })

const requestProperties = {
  subject_request_id: SubjectRequestId,
  subject_request_type: Type.Enum(Object.keys(SUBJECT_REQUEST_TYPES) as Array<keyof typeof SUBJECT_REQUEST_TYPES>),
  submitted_time: dateTime('When the person made the request (RFC 3339): the deadline counts from it'),
  subject_identities: Type.Array(ref(OpenDsrIdentitySchema), {
    minItems: 1,
    maxItems: 20,
    description: 'Required here: this processor defines no extension that carries identities'
  }),
  status_callback_urls: Type.Optional(Type.Array(Type.String({ format: 'uri', pattern: '^https?://', maxLength: 2048 }), {
    maxItems: 10,
    uniqueItems: true,
    description: 'Each is POSTed a signed callback on every status change (§8.5); each origin must be in CALLBACK_ALLOWLIST'
  })),
  extensions: Type.Optional(Type.Record(Type.String(), Type.Object({}, { additionalProperties: true }), {
    description: "Processor-keyed (§7.1.2): other processors' are left to them; one keyed by this processor's domain is refused (it defines none)"
  }))
}

const regulation = Type.Enum(Object.keys(REGULATIONS) as Array<keyof typeof REGULATIONS>, { description: 'The law the request is made under (§7.1.1): sets the deadline' })

/** §7.1.1 `api_version`, the version the controller wants: this major version's (the route's), or refused. */
const apiVersion = (major: 1 | 2) => Type.Optional(Type.String({
  pattern: `^${major}(\\.[0-9]+)?$`, description: `The version the controller wants: ${major}.x on this route`
}))

export const OpenDsrRequestSchema = Type.Object({ regulation, ...requestProperties, api_version: apiVersion(2) }, {
  $id: 'OpenDsrRequest',
  additionalProperties: false,
  examples: [{
    subject_request_id: 'a7551968-d5d6-44b2-9831-815ac9017798',
    regulation: 'gdpr',
    subject_request_type: 'erasure',
    submitted_time: '2018-10-02T15:00:00Z',
    subject_identities: [{ identity_type: 'email', identity_value: 'johndoe@example.com', identity_format: 'raw' }],
    api_version: '2.0',
    status_callback_urls: ['https://example-controller.com/opendsr/callbacks']
  }]
})
export type OpenDsrRequest = Static<typeof OpenDsrRequestSchema>

/** OpenGDPR 1.0 had no `regulation`: it was GDPR only, and a request without one is a GDPR request. */
export const OpenGdprRequestSchema = Type.Object({ regulation: Type.Optional(regulation), ...requestProperties, api_version: apiVersion(1) }, {
  $id: 'OpenGdprRequest', additionalProperties: false
})

export const OpenDsrDiscoverySchema = Type.Object({
  api_version: Type.String(),
  supported_identities: Type.Array(Type.Object({
    identity_type: Type.Enum([...IDENTITY_TYPES]), identity_format: Type.Enum([...IDENTITY_FORMATS])
  }, { additionalProperties: false })),
  supported_subject_request_types: Type.Array(Type.Enum(Object.keys(SUBJECT_REQUEST_TYPES))),
  processor_certificate: Type.String({ format: 'uri', description: 'Where the certificate that signs answers and callbacks is downloaded (§6.3)' })
}, { $id: 'OpenDsrDiscovery', additionalProperties: false })

export const OpenDsrCreatedSchema = Type.Object({
  controller_id: Type.String({ description: "The controller in this processor's system: the API key's name" }),
  expected_completion_time: dateTime('The deadline the request is fulfilled by'),
  received_time: dateTime('When this processor received the request'),
  encoded_request: Type.String({ description: 'Base64 of the request body as received (§7.3); controllers must not log or store it' }),
  subject_request_id: SubjectRequestId
}, { $id: 'OpenDsrCreated', additionalProperties: false })

export const OpenDsrStatusSchema = Type.Object({
  controller_id: Type.String(),
  expected_completion_time: dateTime('The deadline the request is fulfilled by'),
  subject_request_id: SubjectRequestId,
  request_status: Type.Enum([...OPENDSR_STATUSES]),
  api_version: Type.String()
}, { $id: 'OpenDsrStatus', additionalProperties: false })

export const OpenDsrCancelledSchema = Type.Object({
  controller_id: Type.String(),
  subject_request_id: SubjectRequestId,
  received_time: dateTime('When this processor received the cancellation'),
  api_version: Type.String()
}, { $id: 'OpenDsrCancelled', additionalProperties: false })

export const OpenDsrParamsSchema = Type.Object({ id: SubjectRequestId }, { additionalProperties: false })

/**
 * An error answer of the OpenDSR routes: the service's problem document, with the `error` object of
 * §7.6 beside it (`code` the HTTP status, `errors[].reason` the service's stable code).
 */
export const OpenDsrErrorSchema = Type.Object({
  ...(ErrorSchema as unknown as { properties: Record<string, TSchema> }).properties,
  error: Type.Optional(Type.Object({
    code: Type.Integer(),
    message: Type.String(),
    errors: Type.Array(Type.Object({ domain: Type.String(), reason: Type.String(), message: Type.String() }, { additionalProperties: false }))
  }, { additionalProperties: false }))
}, { $id: 'OpenDsrError', additionalProperties: false })

export const opendsrSchemas = [
  OpenDsrIdentitySchema, OpenDsrRequestSchema, OpenGdprRequestSchema, OpenDsrDiscoverySchema, OpenDsrCreatedSchema,
  OpenDsrStatusSchema, OpenDsrCancelledSchema, OpenDsrErrorSchema
] as const
