import type { Message } from '../notify/notifier.js'

/**
 * What the service says about managed customer accounts: to the account's administrator, and to
 * the end user, whom the privacy policy tells: "if you are an end user and the service is managed
 * for you by an administrator, you may need to contact your administrator first". The messages
 * name the account and the request, never the person's data (the administrator reads it through the
 * API with the account's key).
 */

/** ACCOUNT_ASSISTANCE_DAYS's default: two weeks leaves a controller most of a GDPR month. */
export const DEFAULT_ASSISTANCE_DAYS = 14

/** The notice to an administrator: a request of one of their end users waits for their instruction. */
export function administratorMessage (input: { account: { id: string, name: string }, request: { id: string, type: string, regime: string }, dueAt: Date, publicUrl: string }): Omit<Message, 'to'> {
  const { account, request } = input
  return {
    subject: `A data subject request of an end user of ${account.name} waits for your instruction`,
    text: [
      `An end user of ${account.name} (account ${account.id}) has made a ${request.type.replace(/_/g, ' ')} request (${request.regime}).`,
      'We run this service for you as your processor: we act on the records of your account only on your instruction.',
      '',
      `Request: ${request.id}`,
      `Please instruct us or decline by ${input.dueAt.toISOString().slice(0, 10)}, with your reference, through the API with your account's key:`,
      `POST ${input.publicUrl}/v1/requests/${request.id}/controller-decision`,
      `{"account": "${account.id}", "decision": "instruct" or "decline", "reference": "your reference"}`,
      '',
      `Read the request (the person's identifiers, your account's part) at GET ${input.publicUrl}/v1/requests/${request.id}/accounts.`
    ].join('\n')
  }
}

/** What the person is told about a managed account's part of their request. */
export function endUserText (account: { name: string }): string {
  return `Your data in ${account.name} is managed for you by ${account.name}'s administrator. ` +
    'Please contact your administrator first: we act on that data only on their instruction, and we have told them of your request.'
}

export function endUserMessage (account: { name: string }): Omit<Message, 'to'> {
  return { subject: `Your request: please contact the administrator of ${account.name}`, text: endUserText(account) }
}
