/**
 * Loaded into every test process tap starts (.taprc node-arg). A test file given from its source
 * (`npx tap test/x.test.ts`) gets tsx's loader; the suite's compiled files (build/test/…) get none.
 * tap's own TypeScript plugin is off: it put ts-node's loader into every test process, compiled or
 * not, and that doubled the CPU each one spent before its first test (about 1.5 s of 3).
 */
const script = process.argv[1] ?? ''
if (/\.[cm]?tsx?$/.test(script)) {
  const { register } = await import('tsx/esm/api')
  register()
}
