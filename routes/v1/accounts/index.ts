import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { authErrorResponses, problem, ref } from '../../../src/schemas/common.js'
import { AccountListSchema, AccountParamsSchema, AccountSchema, PutAccountSchema } from '../../../src/schemas/accounts.js'

/** Customer accounts (tenants): which are managed for a customer, and who administers them. */
const accounts: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('', {
    config: { scope: 'requests:read' },
    schema: {
      tags: ['accounts'],
      operationId: 'listAccounts',
      summary: 'Customer accounts',
      description: 'Every customer account, by id (a key bound to an account: that account only). A `managed` account is one the company ' +
        'runs the service for: for its end users the company is the processor, and the account\'s administrators instruct or decline their requests.',
      response: { 200: ref(AccountListSchema), ...authErrorResponses }
    }
  }, async () => fastify.accountsService.list())

  fastify.get('/:account', {
    config: { scope: 'requests:read' },
    schema: {
      tags: ['accounts'],
      operationId: 'getAccount',
      summary: 'One customer account',
      description: 'The account, whether it is managed for the customer, its administrators and its assistance days. 404 `DSR_ACCOUNT_NOT_FOUND` for an unknown id, and for any account but its own with a key bound to an account.',
      params: AccountParamsSchema,
      response: { 200: ref(AccountSchema), ...authErrorResponses, 404: problem() }
    }
  }, async (request) => fastify.accountsService.get(request.params.account))

  fastify.put('/:account', {
    config: { scope: 'accounts:manage' },
    schema: {
      tags: ['accounts'],
      operationId: 'putAccount',
      summary: 'Create a customer account, or replace what it says',
      description: 'An account named in ACCOUNTS_FILE is set as the file says again at the next start. Answers 201 when the account is new, 200 otherwise. ' +
        'A `callback_url` outside CALLBACK_ALLOWLIST is refused with 422 `DSR_CALLBACK_URL_NOT_ALLOWED`.',
      params: AccountParamsSchema,
      body: ref(PutAccountSchema),
      response: { 200: ref(AccountSchema), 201: ref(AccountSchema), ...authErrorResponses, 413: problem(), 415: problem(), 422: problem() }
    }
  }, async (request, reply) => {
    const { account, created } = await fastify.accountsService.put(request.params.account, request.body)
    return reply.code(created ? 201 : 200).send(account)
  })
}

export default accounts
