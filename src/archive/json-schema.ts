/**
 * Infers a JSON Schema (draft 2020-12) from a stream's records, one record at a time, so that the
 * schema validates every record it saw: the types found at each place, and as `required` the
 * properties present in every object there. Memory is bounded: objects are described to a depth of
 * MAX_DEPTH, with at most MAX_PROPERTIES properties each and MAX_NODES places in all; past that only
 * their types are given (with `additionalProperties` left open, the schema still holds for every record).
 */

export const MAX_DEPTH = 6
export const MAX_PROPERTIES = 500
export const MAX_NODES = 5000

type JsonType = 'null' | 'boolean' | 'integer' | 'number' | 'string' | 'array' | 'object'
const TYPE_ORDER: readonly JsonType[] = ['object', 'array', 'string', 'number', 'integer', 'boolean', 'null']

interface Node {
  types: Set<JsonType>
  /** How many objects were seen here, and per property how many of them had it. */
  objects: number
  properties: Map<string, { node: Node, present: number }>
  items: Node | null
}

const node = (): Node => ({ types: new Set(), objects: 0, properties: new Map(), items: null })

function typeOf (value: unknown): JsonType {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  switch (typeof value) {
    case 'boolean': return 'boolean'
    case 'number': return Number.isInteger(value) ? 'integer' : 'number'
    case 'string': return 'string'
    default: return 'object'
  }
}

function observe (n: Node, value: unknown, depth: number, budget: { nodes: number }): void {
  const type = typeOf(value)
  n.types.add(type)
  if (depth >= MAX_DEPTH) return
  if (type === 'object') {
    n.objects++
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      if (child === undefined) continue
      let p = n.properties.get(key)
      if (!p) {
        if (n.properties.size >= MAX_PROPERTIES || budget.nodes >= MAX_NODES) continue
        budget.nodes++
        p = { node: node(), present: 0 }
        n.properties.set(key, p)
      }
      p.present++
      observe(p.node, child, depth + 1, budget)
    }
  } else if (type === 'array') {
    n.items ??= node()
    for (const item of value as unknown[]) observe(n.items, item, depth + 1, budget)
  }
}

function toSchema (n: Node): Record<string, unknown> {
  // An integer is a number: listing both would be redundant.
  const types = TYPE_ORDER.filter((t) => n.types.has(t) && !(t === 'integer' && n.types.has('number')))
  const schema: Record<string, unknown> = types.length === 1 ? { type: types[0] } : { type: types }
  if (n.types.has('object') && n.properties.size > 0) {
    schema.properties = Object.fromEntries([...n.properties].map(([k, p]) => [k, toSchema(p.node)]))
    const required = [...n.properties].filter(([, p]) => p.present === n.objects).map(([k]) => k)
    if (required.length > 0) schema.required = required
  }
  if (n.types.has('array') && n.items && n.items.types.size > 0) schema.items = toSchema(n.items)
  return schema
}

export class SchemaInferrer {
  readonly #root = node()
  readonly #budget = { nodes: 1 }
  #records = 0

  add (record: Record<string, unknown>): void {
    this.#records++
    observe(this.#root, record, 0, this.#budget)
  }

  get records (): number {
    return this.#records
  }

  /** The schema, with a title and description for the person reading it. */
  schema (meta: { id: string, title: string, description: string }): Record<string, unknown> {
    const inferred = this.#records > 0 ? toSchema(this.#root) : { type: 'object' }
    return {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      $id: meta.id,
      title: meta.title,
      description: meta.description,
      ...inferred
    }
  }
}
