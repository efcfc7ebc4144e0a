import neostandard from 'neostandard'

// The style fastify itself uses (neostandard, TypeScript included); `npm run lint` allows no warnings.
export default [
  ...neostandard({
    ts: true,
    ignores: [...neostandard.resolveIgnoresFromGitignore(), 'openapi/**', 'clients/typescript/src/schema.ts']
  }),
  {
    files: ['**/*.ts'],
    rules: {
      // `void promise` marks a promise left to run on its own on purpose.
      'no-void': ['error', { allowAsStatement: true }],
      // `_` names what a loop or a destructuring must bind and does not use.
      '@typescript-eslint/no-unused-vars': ['error', { args: 'none', ignoreRestSiblings: true, varsIgnorePattern: '^_' }]
    }
  }
]
