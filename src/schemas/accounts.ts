import { Type, type Static } from 'typebox'
import { Nullable, ref } from './common.js'
import { SubjectSchema } from './requests.js'

const accountId = Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,62}$', description: 'The account id: lower-case letters, digits, `-` and `_`' })

export const AccountAdminSchema = Type.Object({
  email: Type.String({ format: 'email', maxLength: 254 }),
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 }))
}, { $id: 'AccountAdmin', additionalProperties: false })

export const PutAccountSchema = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' }),
  managed: Type.Boolean({ description: 'The company runs the service for this customer: for its end users the company is the processor and the customer the controller' }),
  admins: Type.Array(ref(AccountAdminSchema), { maxItems: 20, description: 'Who is told of an end user\'s request (by e-mail) and instructs or declines it' }),
  assistance_days: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 90, description: 'Days from routing by which a waiting part is due; ACCOUNT_ASSISTANCE_DAYS when null' }))),
  callback_url: Type.Optional(Nullable(Type.String({ format: 'uri', maxLength: 2000, description: 'Sent a signed `account.instruction_requested` callback when a part waits for the administrator (within CALLBACK_ALLOWLIST, like a request\'s callback_url)' })))
}, { $id: 'PutAccount', additionalProperties: false })
export type PutAccount = Static<typeof PutAccountSchema>

export const AccountSchema = Type.Object({
  id: accountId,
  name: Type.String(),
  managed: Type.Boolean(),
  admins: Type.Array(ref(AccountAdminSchema)),
  assistance_days: Nullable(Type.Integer()),
  callback_url: Nullable(Type.String()),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' })
}, { $id: 'Account', additionalProperties: false })

export const AccountListSchema = Type.Object({ data: Type.Array(ref(AccountSchema)) }, { $id: 'AccountList', additionalProperties: false })

export const AccountParamsSchema = Type.Object({ account: accountId })

export const ControllerDecisionSchema = Type.Object({
  account: accountId,
  decision: Type.Enum(['instruct', 'decline'], { description: '`instruct`: fulfil the request on the account\'s records; `decline`: leave them alone' }),
  reference: Type.String({ minLength: 1, maxLength: 200, pattern: '\\S', description: 'The controller\'s reference for its documented instruction' }),
  explanation: Type.Optional(Type.String({ minLength: 1, maxLength: 2000, description: 'With `decline`: what the person is told, when declining ends the request' }))
}, { $id: 'ControllerDecision', additionalProperties: false })
export type ControllerDecision = Static<typeof ControllerDecisionSchema>

export const AccountPartSchema = Type.Object({
  account: accountId,
  account_name: Type.String(),
  state: Type.Enum(['awaiting', 'instructed', 'declined']),
  systems: Type.Array(Type.String(), { description: 'Where the person\'s records of this account were found' }),
  due_at: Type.String({ format: 'date-time', description: 'When the company\'s assistance to the controller is due (GDPR Art 28(3)(e))' }),
  notified_at: Nullable(Type.String({ format: 'date-time' }), { description: 'When the account\'s administrators were e-mailed; null until the relay accepted it' }),
  person_told_at: Nullable(Type.String({ format: 'date-time' }), {
    description: 'When the person was e-mailed to contact the administrators (or, for a request without an e-mail address, when there was nothing to send); null until then'
  }),
  reference: Nullable(Type.String()),
  decided_at: Nullable(Type.String({ format: 'date-time' })),
  message: Type.String({ description: 'What the person is told about this part' })
}, { $id: 'AccountPart', additionalProperties: false })

export const AccountPartListSchema = Type.Object({
  request_id: Type.String({ format: 'uuid' }),
  request_type: Type.String(),
  subject: ref(SubjectSchema),
  data: Type.Array(ref(AccountPartSchema))
}, { $id: 'AccountPartList', additionalProperties: false, description: 'The parts, with the request\'s type and the person\'s identifiers, which the controller needs to decide' })

export const accountSchemas = [AccountAdminSchema, PutAccountSchema, AccountSchema, AccountListSchema, ControllerDecisionSchema, AccountPartSchema, AccountPartListSchema]
