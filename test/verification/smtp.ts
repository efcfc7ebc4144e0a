import { SMTPServer } from 'smtp-server'
import type { AddressInfo } from 'node:net'
import type { Test } from 'tap'

export interface Received { to: string[], raw: string, text: string }

/**
 * A real SMTP server on a free local port, keeping every message it accepts; closed at the test's end.
 * `refuse` names recipients it answers 550 (counted in `refused`), as a relay refusing an address does.
 */
export async function startSmtp (t: Test, opts: { refuse?: (address: string) => boolean } = {}) {
  const received: Received[] = []
  const refused: string[] = []
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo (address, _session, callback) {
      if (!opts.refuse?.(address.address)) return callback()
      refused.push(address.address)
      callback(Object.assign(new Error('mailbox unavailable'), { responseCode: 550 }))
    },
    onData (stream, session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8')
        received.push({ to: session.envelope.rcptTo.map((r) => r.address), raw, text: decodeBody(raw) })
        callback()
      })
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const port = (server.server.address() as AddressInfo).port
  return { url: `smtp://127.0.0.1:${port}`, received, refused }
}

/** The body of a single-part text message, quoted-printable or base64 decoded. */
function decodeBody (raw: string): string {
  const split = raw.indexOf('\r\n\r\n')
  const head = raw.slice(0, split)
  const body = raw.slice(split + 4)
  if (/content-transfer-encoding:\s*base64/i.test(head)) return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8')
  if (/content-transfer-encoding:\s*quoted-printable/i.test(head)) {
    // Soft line breaks dropped; each =XX is one byte of the UTF-8 text, every other character one ASCII byte.
    const soft = body.replace(/=\r?\n/g, '')
    const bytes: number[] = []
    for (let i = 0; i < soft.length; i++) {
      const hex = soft[i] === '=' ? /^[0-9A-F]{2}/i.exec(soft.slice(i + 1, i + 3)) : null
      if (hex) {
        bytes.push(parseInt(hex[0], 16))
        i += 2
      } else bytes.push(soft.charCodeAt(i))
    }
    return Buffer.from(bytes).toString('utf8')
  }
  return body
}

/** The code and link token of a verification e-mail. */
export function secretsOf (message: Received): { code: string, token: string, link: string } {
  const code = /code to our privacy team: (\d{6})/.exec(message.text)?.[1]
  const link = /(https?:\/\/\S+\/v1\/verification-links\?token=([A-Za-z0-9_-]{43}))/.exec(message.text)
  if (!code || !link) throw new Error('no code or link in the message')
  return { code, token: link[2]!, link: link[1]! }
}
