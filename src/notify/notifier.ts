/** One message to a person: plain text, no attachments. The address and the text are personal data: never logged. */
export interface Message {
  to: string
  subject: string
  text: string
}

/**
 * How the service reaches a person (the verification code and link). One implementation per
 * channel; `createSmtpNotifier` (smtp.ts) is the e-mail one. `send` resolves once the message was
 * accepted by the relay and rejects with a NotifierError otherwise.
 */
export interface Notifier {
  /** A name for logs and audit trails, without secrets: e.g. `smtp:mail.example.com:465`. */
  readonly name: string
  send (message: Message): Promise<void>
  close (): Promise<void>
}

/** A message was not accepted for delivery; `reason` is safe to log (no address, no text). */
export class NotifierError extends Error {
  override name = 'NotifierError'
  constructor (readonly reason: string, options?: { cause?: unknown }) {
    super(`the message was not sent: ${reason}`, options)
  }
}
