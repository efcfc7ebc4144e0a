import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { errorTable } from '../errors.js'

/** Writes the README's table of error codes from the catalogue (src/errors.ts). A test compares the two. */
export const START = '<!-- error codes: written by npm run docs:errors from src/errors.ts -->'
export const END = '<!-- end of error codes -->'

export function withErrorTable (readme: string): string {
  const from = readme.indexOf(START)
  const to = readme.indexOf(END)
  if (from < 0 || to < from) throw new Error(`README.md needs the markers ${START} and ${END}`)
  return `${readme.slice(0, from + START.length)}\n${errorTable()}\n${readme.slice(to)}`
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const target = fileURLToPath(new URL('../../README.md', import.meta.url))
  writeFileSync(target, withErrorTable(readFileSync(target, 'utf8')))
  process.stdout.write('README.md: error codes written\n')
}
