/**
 * The layers, checked by `npm run depcruise` (and CI): no cycles, and no import against the order
 *   connectors/types ← domain ← db ← jobs ← services ← plugins ← routes
 * @type {import('dependency-cruiser').IConfiguration}
 */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'Modules import each other in a circle.', from: {}, to: { circular: true } },
    { name: 'not-to-unresolvable', severity: 'error', comment: 'An import that resolves to nothing.', from: {}, to: { couldNotResolve: true } },
    {
      name: 'domain-is-pure',
      severity: 'error',
      comment: 'The domain (deadlines, lifecycle, vocabulary) knows nothing of storage, jobs, services or HTTP.',
      from: { path: '^src/domain/' },
      to: { path: '^(src/(db|jobs|engine|services|plugins|archive|backups|receipts|transfers|callbacks|opendsr|storage)|routes)/' }
    },
    {
      name: 'db-below-jobs',
      severity: 'error',
      comment: 'The database layer does not reach up into jobs, the engine, services, plugins or routes.',
      from: { path: '^src/db/' },
      to: { path: '^(src/(jobs|engine|services|plugins|archive|backups|receipts|transfers|callbacks|opendsr)|routes)/' }
    },
    {
      name: 'jobs-below-services',
      severity: 'error',
      comment: 'The jobs layer (queues, workers, leases) does not reach up into the services (engine, archive, transfers, receipts, backups included), plugins or routes.',
      from: { path: '^src/jobs/' },
      to: { path: '^(src/(services|plugins|engine|archive|backups|receipts|transfers|callbacks|opendsr)|routes)/' }
    },
    {
      name: 'services-below-plugins',
      severity: 'error',
      comment: 'Services do not know the Fastify plugins that wire them, nor the routes.',
      from: { path: '^src/(services|engine|archive|backups|receipts|transfers|callbacks|opendsr)/' },
      to: { path: '^(src/plugins|routes)/' }
    },
    {
      name: 'engine-emits-request-closed',
      severity: 'error',
      comment: 'The engine runs tasks and closes requests; what follows a close (archive, backups, receipts) listens to its request-closed event (src/engine/finalize.ts), wired in src/plugins/app/engine.ts. The engine imports none of them (types excepted).',
      from: { path: '^src/engine/(engine|finalize|runner|planner|circuit)\\.ts$' },
      to: { path: '^src/(archive|backups|receipts)/', dependencyTypesNot: ['type-only'] }
    },
    {
      name: 'routes-call-services',
      severity: 'error',
      comment: 'Routes call services: never the database, the engine, a queue or a connector driver.',
      from: { path: '^routes/' },
      to: { path: '^(src/(db|jobs|engine)|connectors)/' }
    },
    {
      name: 'sql-in-repositories',
      severity: 'error',
      comment: "SQL lives in the database layer: outside src/db/, nothing builds a query (drizzle-orm) or reads the tables' definitions (types excepted).",
      from: { path: '^(src|routes|connectors)/', pathNot: '^src/db/' },
      to: { path: ['^node_modules/drizzle-orm/', '^src/db/schema(-proof|-callbacks)?\\.ts$'], dependencyTypesNot: ['type-only'] }
    },
    {
      name: 'api-schemas-are-contracts',
      severity: 'error',
      comment: 'The API schemas (src/schemas/) say what the API accepts and answers: they draw on the domain, never on storage or services.',
      from: { path: '^src/schemas/' },
      to: { path: '^(src/(db|jobs|engine|services|plugins|archive|backups|receipts|transfers|callbacks|opendsr|storage)|routes)/' }
    },
    {
      name: 'connector-contract-stands-alone',
      severity: 'error',
      comment: 'The connector contract (connectors/types.ts) depends on nothing of the service.',
      from: { path: '^connectors/types\\.ts$' },
      to: { path: '^src/' }
    }
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|coverage|\\.tap)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js'] }
  }
}
