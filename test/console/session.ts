import type { LightMyRequestResponse } from 'fastify'
import type { Test } from 'tap'
import { hashKey, type KeyRecord } from '../../src/services/api-keys.js'
import { KEYS, testKeys } from '../helper.js'

/** Keys of the console tests: the usual ones, an operator whose key has the console scope, and a viewer who may only look. */
export const OPERATOR_KEY = 'test-operator-key-0000000000000000'
export const VIEWER_KEY = 'test-viewer-key-000000000000000000'
export function consoleKeys (): Map<string, KeyRecord> {
  const keys = testKeys()
  keys.set(hashKey(OPERATOR_KEY), { name: 'operator', scopes: ['console', 'requests:read', 'requests:write', 'requests:approve', 'connectors:read'] })
  keys.set(hashKey(VIEWER_KEY), { name: 'viewer', scopes: ['console', 'requests:read'] })
  return keys
}
export { KEYS }

type App = { inject: (opts: Record<string, unknown>) => Promise<LightMyRequestResponse> }

/** A browser's cookie jar and forms, over app.inject. */
export class ConsoleClient {
  cookie = ''
  constructor (private readonly app: App) {}

  private keep (res: LightMyRequestResponse) {
    const set = res.headers['set-cookie']
    for (const c of [set ?? []].flat()) {
      const [pair] = c.split(';')
      if (pair?.startsWith('dsr_console=')) this.cookie = /Max-Age=0|Expires=Thu, 01 Jan 1970/i.test(c) ? '' : pair
    }
    return res
  }

  async get (url: string) {
    return this.keep(await this.app.inject({ method: 'GET', url, headers: this.cookie ? { cookie: this.cookie } : {} }))
  }

  async post (url: string, form: Record<string, string>) {
    return this.keep(await this.app.inject({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(this.cookie ? { cookie: this.cookie } : {}) },
      payload: new URLSearchParams(form).toString()
    }))
  }

  /** The anti-forgery token of a page's forms. */
  static csrfOf (html: string): string {
    const m = /name="_csrf" value="([^"]+)"/.exec(html)
    if (!m) throw new Error('no _csrf field on the page')
    return m[1]!
  }

  async signIn (key: string) {
    const page = await this.get('/console/sign-in')
    return this.post('/console/sign-in', { _csrf: ConsoleClient.csrfOf(page.body), key })
  }
}

/**
 * A form posted twice and refused both times, as the API refuses its call: by a signed-in session without
 * the form's anti-forgery token (403 DSR_CSRF_TOKEN_INVALID), and with the token by a viewer, whose key
 * lacks the action's scope (403 DSR_FORBIDDEN). The caller then checks that nothing was done.
 */
export async function assertRefused (t: Test, app: App, signedIn: ConsoleClient, url: string, form: Record<string, string>) {
  const noToken = await signedIn.post(url, form)
  t.equal(noToken.statusCode, 403, 'without the token: refused')
  t.match(noToken.body, /data-code>DSR_CSRF_TOKEN_INVALID</)
  const viewer = new ConsoleClient(app)
  await viewer.signIn(VIEWER_KEY)
  const noScope = await viewer.post(url, { ...form, _csrf: ConsoleClient.csrfOf((await viewer.get('/console')).body) })
  t.equal(noScope.statusCode, 403, 'a key without the scope: refused')
  t.match(noScope.body, /data-code>DSR_FORBIDDEN</)
}
