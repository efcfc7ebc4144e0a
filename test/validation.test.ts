import t from 'tap'
import { createValidatorCompiler } from '../src/validation.js'
import { charsetOf, MAX_JSON_DEPTH, nestingPast } from '../src/json-body.js'

/** The body checks below the routes, on their own: no recursion a body can overflow. */

const compile = createValidatorCompiler(() => ({}))
const validatorOf = (schema: object) => compile({ schema, method: 'POST', url: '/x', httpPart: 'body' }) as unknown as
  ((data: unknown) => boolean) & { errors: Array<{ instancePath: string, keyword: string }> }

t.test('the storable walk takes any depth and names what it finds', async (t) => {
  const validate = validatorOf({})
  let deep: unknown = ['a\u0000b', -Infinity]
  for (let i = 0; i < 100_000; i++) deep = [deep]
  t.equal(validate(deep), false, '100,000 levels walked without overflowing the stack')
  t.strictSame(validate.errors.map((e) => e.keyword), ['storable', 'finite'])
  t.equal(validate.errors[0]!.instancePath, '/0'.repeat(100_000) + '/0')
  t.equal(validate({ 'a/b': { '~': Infinity } }), false)
  t.equal(validate.errors[0]!.instancePath, '/a~1b/~0', 'JSON pointer escapes')
  t.equal(validate({ a: [1e308, 'ok', null, true] }), true, 'finite numbers and storable strings pass')
})

t.test('nesting is measured by a scan that skips strings', async (t) => {
  t.equal(nestingPast('['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH), MAX_JSON_DEPTH), 0, `${MAX_JSON_DEPTH} levels pass`)
  t.equal(nestingPast('['.repeat(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH), MAX_JSON_DEPTH + 1)
  t.equal(nestingPast(`{"a":"${'['.repeat(100)}\\"${'{'.repeat(100)}"}`, MAX_JSON_DEPTH), 0, 'brackets and escaped quotes inside strings do not count')
  t.equal(charsetOf('application/json; charset="UTF-16"'), 'utf-16')
  t.equal(charsetOf('application/json'), undefined)
})
