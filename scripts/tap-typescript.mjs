/**
 * Loaded into every test process tap starts (.taprc node-arg). A test file given from its source
 * (`npx tap test/x.test.ts`) gets tsx's loader; the suite's compiled files (build/test/…) get none.
 * tap's own TypeScript plugin is off: it put ts-node's loader into every test process, compiled or
 * not, at about 1.2 s of CPU per file (ten trivial test files: 45 to 47 s of CPU with it, 33 to 36 s
 * without).
 */
const script = process.argv[1] ?? ''
if (/\.[cm]?tsx?$/.test(script)) {
  const { register } = await import('tsx/esm/api')
  register()
}
