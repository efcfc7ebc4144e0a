import { defineConfig } from 'drizzle-kit'

// Generates SQL migrations from the schema files (src/db/schema*.ts) into drizzle/. Applying them is `npm run migrate`.
export default defineConfig({
  dialect: 'postgresql',
  schema: ['./src/db/schema.ts', './src/db/schema-proof.ts', './src/db/schema-callbacks.ts', './src/db/schema-verification.ts', './src/db/schema-audit.ts', './src/db/schema-transfers.ts', './src/db/schema-identity.ts', './src/db/schema-suppressions.ts', './src/db/schema-holds.ts', './src/db/schema-opendsr.ts', './src/db/schema-accounts.ts'],
  out: './drizzle'
})
