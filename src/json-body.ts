import type { FastifyBodyParser, FastifyInstance } from 'fastify'
import { Errors } from './errors.js'

/**
 * How deep arrays and objects may nest in a JSON body. The deepest body the API takes (a request's
 * subject.external_ids items) nests 4 levels; 32 leaves room and keeps every later walk of a body
 * (validation, the database's jsonb) far from any stack limit.
 */
export const MAX_JSON_DEPTH = 32

/**
 * The depth at which a JSON text first nests deeper than `max`, or 0 when it does not. One pass over
 * the characters, no recursion: strings (and the brackets in them, escaped quotes included) are
 * skipped; whether the text is JSON at all is JSON.parse's to say afterwards.
 */
export function nestingPast (text: string, max: number): number {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // backslash: the next character is escaped
      else if (c === 0x22) inString = false
    } else if (c === 0x22) {
      inString = true
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return depth
    } else if (c === 0x5d || c === 0x7d) {
      depth--
    }
  }
  return 0
}

/** The charset a Content-Type names, lower-cased without quotes; undefined when it names none. */
export function charsetOf (contentType: string | undefined): string | undefined {
  const m = /;\s*charset\s*=\s*("?)([^";\s]*)\1/i.exec(contentType ?? '')
  return m ? m[2]!.toLowerCase() : undefined
}

/**
 * The JSON body parser: Fastify's own (which refuses `__proto__` and `constructor.prototype` keys),
 * after two checks it does not make. The body is read as UTF-8, so a Content-Type naming any other
 * charset is refused with 415 rather than read wrongly; and a body nesting deeper than
 * MAX_JSON_DEPTH is refused with 400 before it is parsed.
 */
export function jsonBodyParser (fastify: FastifyInstance): FastifyBodyParser<string> {
  const parse = fastify.getDefaultJsonParser('error', 'error')
  return (request, body, done) => {
    const charset = charsetOf(request.headers['content-type'])
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
      done(new Errors.UnsupportedCharset(), undefined)
      return
    }
    if (nestingPast(body, MAX_JSON_DEPTH) > 0) {
      done(new Errors.NestingTooDeep(MAX_JSON_DEPTH), undefined)
      return
    }
    ;(parse as (r: typeof request, b: string, d: typeof done) => void)(request, body, done)
  }
}
