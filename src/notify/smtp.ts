import nodemailer from 'nodemailer'
import { NotifierError, type Message, type Notifier } from './notifier.js'

/**
 * E-mail through an SMTP relay with nodemailer. `url` is `smtp://` or `smtps://`, credentials in
 * it (SMTP_URL: a secret, never logged: `name` keeps only host and port). nodemailer's own logger is
 * off, so neither the recipient nor the text reaches a log.
 */
export function createSmtpNotifier (opts: { url: string, from: string, timeoutMs?: number }): Notifier {
  const parsed = new URL(opts.url)
  const timeout = opts.timeoutMs ?? 15_000
  const transport = nodemailer.createTransport({
    host: parsed.hostname,
    port: parsed.port ? Number(parsed.port) : parsed.protocol === 'smtps:' ? 465 : 587,
    secure: parsed.protocol === 'smtps:',
    ...(parsed.username ? { auth: { user: decodeURIComponent(parsed.username), pass: decodeURIComponent(parsed.password) } } : {}),
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
    logger: false,
    debug: false
  })
  return {
    name: `smtp:${parsed.hostname}:${parsed.port || (parsed.protocol === 'smtps:' ? 465 : 587)}`,

    async send (message: Message): Promise<void> {
      try {
        const info = await transport.sendMail({ from: opts.from, to: message.to, subject: message.subject, text: message.text })
        if (info.rejected.length > 0) throw new NotifierError('the relay refused the recipient')
      } catch (err) {
        if (err instanceof NotifierError) throw err
        const code = (err as { code?: string, responseCode?: number }).code ?? 'error'
        const response = (err as { responseCode?: number }).responseCode
        throw new NotifierError(response ? `${code} (SMTP ${response})` : code, { cause: err })
      }
    },

    async close (): Promise<void> {
      transport.close()
    }
  }
}
