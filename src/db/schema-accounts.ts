import { sql } from 'drizzle-orm'
import { boolean, check, index, integer, jsonb, pgTable, primaryKey, text, uuid } from 'drizzle-orm/pg-core'
import { requests, tz } from './schema.js'

/** Someone the company tells about an end user's request for a managed account: its administrator. */
export interface AccountAdmin { email: string, name?: string }

/**
 * Customer accounts (tenants). A `managed` account is one whose service the company runs for a
 * customer: for the account's end users the company is the processor and the customer (through its
 * administrators) the controller, so an end user's request about the account's data waits for the
 * administrator's instruction (src/services/accounts-service.ts). Loaded from ACCOUNTS_FILE at start
 * and changed through the API.
 */
export const accounts = pgTable('accounts', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  managed: boolean('managed').notNull().default(false),
  admins: jsonb('admins').$type<AccountAdmin[]>().notNull().default([]),
  /**
   * Days from routing by which the company assists the controller (GDPR Art 28(3)(e)): the due date
   * of a waiting part; ACCOUNT_ASSISTANCE_DAYS when null.
   */
  assistanceDays: integer('assistance_days'),
  /** Where the account's own systems are told of a part waiting for its administrator (a signed callback, like a request's). */
  callbackUrl: text('callback_url'),
  createdAt: tz('created_at').notNull().defaultNow(),
  updatedAt: tz('updated_at').notNull().defaultNow()
}, (t) => [
  check('accounts_id_format', sql`${t.id} ~ '^[a-z0-9][a-z0-9_-]{0,62}$'`)
])

export const ACCOUNT_PART_STATES = ['awaiting', 'instructed', 'declined'] as const
export type AccountPartState = typeof ACCOUNT_PART_STATES[number]

/**
 * A request's part that belongs to a managed account: the records found of the person in that
 * account, which wait for its administrator's instruction (`awaiting`), then are fulfilled
 * (`instructed`, with the controller's reference) or left alone (`declined`). The company's own
 * part of the same request runs without waiting.
 */
export const requestAccounts = pgTable('request_accounts', {
  requestId: uuid('request_id').notNull().references(() => requests.id, { onDelete: 'cascade' }),
  accountId: text('account_id').notNull().references(() => accounts.id),
  state: text('state', { enum: ACCOUNT_PART_STATES }).notNull().default('awaiting'),
  /** The systems in which the identity check found the person's records of this account. */
  connectors: text('connectors').array().notNull(),
  /** When the company's assistance to the controller is due. */
  dueAt: tz('due_at').notNull(),
  /** When the account's administrators were told (null until their e-mail was accepted). */
  notifiedAt: tz('notified_at'),
  /**
   * When the person was told to contact the account's controller (null until that e-mail was
   * accepted); set with notified_at when the request has no e-mail address to tell them at. Kept
   * apart so that a retry after the person's e-mail failed does not e-mail the administrators again.
   */
  personToldAt: tz('person_told_at'),
  /** The controller's reference for its instruction or refusal. */
  reference: text('reference'),
  decidedBy: text('decided_by'),
  decidedAt: tz('decided_at'),
  createdAt: tz('created_at').notNull().defaultNow()
}, (t) => [
  primaryKey({ columns: [t.requestId, t.accountId] }),
  index('request_accounts_account').on(t.accountId, t.requestId),
  check('request_accounts_state', sql`${t.state} in ('awaiting', 'instructed', 'declined')`)
])
