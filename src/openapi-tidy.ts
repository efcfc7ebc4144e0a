/**
 * The last pass over the generated OpenAPI document, for what @fastify/swagger writes in a way
 * generated clients and linters handle badly: a `null` branch of a union (written as
 * `{"type":"object","nullable":true,"enum":[null]}`) becomes `nullable: true` on the union; an enum
 * gets the `type` of its values; a response described only as "Default Response" gets the meaning
 * of its status code.
 */

const STATUS_TEXT: Record<string, string> = {
  200: 'OK',
  201: 'Created',
  202: 'Accepted: stored, and carried out by the workers',
  204: 'No content',
  206: 'Partial content: the byte range asked for',
  302: 'Found: redirected',
  304: 'Not modified',
  400: 'Invalid input: `code` says which rule, `details` which fields',
  401: 'No API key, or an unknown one (DSR_UNAUTHENTICATED)',
  403: "The API key lacks the route's scope (DSR_FORBIDDEN)",
  404: 'Not found: `code` says what',
  409: 'Conflicts with the current state of the resource: `code` says how',
  410: 'Gone: expired or revoked',
  412: 'Precondition failed',
  413: 'The body is larger than the service accepts (DSR_PAYLOAD_TOO_LARGE)',
  415: 'The body is not JSON (DSR_UNSUPPORTED_MEDIA_TYPE)',
  416: 'The byte range cannot be satisfied',
  422: 'Well-formed, but not acceptable: `code` says why',
  423: 'Locked: `code` says what, and how it is unlocked',
  429: 'Too many requests: retry after Retry-After',
  500: 'Internal error (DSR_INTERNAL)',
  502: 'A system the service relies on refused or failed: `code` says which',
  503: 'Unavailable: retry after Retry-After'
}

type Node = Record<string, unknown>

const isNullBranch = (n: unknown) => {
  const o = n as Node
  return o !== null && typeof o === 'object' && Array.isArray(o.enum) && o.enum.length === 1 && o.enum[0] === null
}

/**
 * OpenAPI 3.0 gives `nullable` a meaning only beside a `type`. A nullable reference becomes
 * `{ type, nullable, allOf: [$ref] }` with the type of the component referred to; a nullable union
 * of typed branches makes each branch nullable instead.
 */
function tidySchema (node: unknown, components: Record<string, Node>): void {
  if (Array.isArray(node)) { node.forEach((n) => tidySchema(n, components)); return }
  if (node === null || typeof node !== 'object') return
  const o = node as Node
  for (const key of ['anyOf', 'oneOf'] as const) {
    const branches = o[key]
    if (Array.isArray(branches) && branches.some(isNullBranch)) {
      const rest = branches.filter((b) => !isNullBranch(b)) as Node[]
      delete o[key]
      const ref = rest.length === 1 && typeof rest[0]!.$ref === 'string' ? rest[0]!.$ref : undefined
      if (ref !== undefined) {
        const type = components[ref.replace('#/components/schemas/', '')]?.type
        if (typeof type !== 'string') throw new Error(`a nullable ${ref} needs a component with a type`)
        Object.assign(o, { type, nullable: true, allOf: rest })
      } else if (rest.length === 1) Object.assign(o, rest[0], { nullable: true })
      else if (rest.every((b) => typeof b.type === 'string')) o[key] = rest.map((b) => ({ ...b, nullable: true }))
      else Object.assign(o, { nullable: true, [key]: rest })
    }
  }
  if (Array.isArray(o.enum) && o.type === undefined) {
    const values = o.enum.filter((v) => v !== null)
    const types = new Set(values.map((v) => (typeof v === 'number' && Number.isInteger(v) ? 'integer' : typeof v)))
    if (types.size === 1) {
      o.type = [...types][0] === 'integer' ? 'integer' : [...types][0]
      if (values.length < o.enum.length) o.nullable = true
    }
  }
  for (const value of Object.values(o)) tidySchema(value, components)
}

/**
 * @fastify/swagger suffixes the operationId of a documented HEAD route with `-head` (against a clash
 * with its GET); a HEAD route with an id of its own keeps it, so generated clients get a camelCase name.
 */
function tidyHeadOperationIds (paths: Record<string, Record<string, { operationId?: string }>>): void {
  const ids = new Set(Object.values(paths).flatMap((ops) => Object.values(ops).map((op) => op.operationId)))
  for (const ops of Object.values(paths)) {
    const head = ops.head
    const own = head?.operationId?.replace(/-head$/, '')
    if (head && own && own !== head.operationId && !ids.has(own)) head.operationId = own
  }
}

/** The document tidied, as a copy: the generated one shares schema objects with the routes, which must stay as they are. */
export function tidyOpenApi<T> (generated: T): T {
  const doc = JSON.parse(JSON.stringify(generated)) as T
  const d = doc as { paths?: Record<string, Record<string, { operationId?: string, responses?: Record<string, Node> }>>, components?: { schemas?: Record<string, Node> } }
  const components = d.components?.schemas ?? {}
  tidySchema(d.components, components)
  tidyHeadOperationIds(d.paths ?? {})
  for (const ops of Object.values(d.paths ?? {})) {
    for (const op of Object.values(ops)) {
      tidySchema(op, components)
      for (const [status, response] of Object.entries(op.responses ?? {})) {
        if (response.description === 'Default Response' && STATUS_TEXT[status]) response.description = STATUS_TEXT[status]
      }
    }
  }
  return doc
}
