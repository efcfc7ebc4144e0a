import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import type { Page } from 'playwright-core'
import { skipUnlessRequired } from './helper.js'

/** Debian's Chromium, installed by scripts/setup-system.sh (playwright-core brings no browser). */
export const CHROMIUM = '/usr/bin/chromium'
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']

/**
 * Whether the browser is here. Without it the file's checks are reported as a skip with the reason
 * (a failure where DSR_REQUIRED_CHECKS names `browser`, as in CI), and false is answered.
 */
export function browserAvailable (t: Test, what: string): boolean {
  if (existsSync(CHROMIUM)) return true
  skipUnlessRequired(t, 'browser', what, `${CHROMIUM} is not installed (run scripts/setup-system.sh as root)`)
  return false
}

/** A page of a fresh headless Chromium profile, closed and removed when the test ends. */
export async function openPage (t: Test): Promise<Page> {
  const { chromium } = await import('playwright-core')
  const profile = await mkdtemp(join(tmpdir(), 'dsr-chromium-'))
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS })
  t.teardown(async () => {
    await context.close()
    await rm(profile, { recursive: true, force: true })
  })
  return context.pages()[0] ?? await context.newPage()
}

/** axe-core's script, to evaluate in a page before `axe.run`. */
export async function axeSource (): Promise<string> {
  return readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')
}

/**
 * axe-core's violations on the page as it is (none expected), and how far it scrolls sideways (0
 * expected): asserted, named `what`. axe is evaluated through the DevTools protocol, which a page's
 * CSP (no inline script) does not govern.
 */
export async function checkAccessible (t: Test, page: Page, axe: string, what: string): Promise<void> {
  await page.evaluate(axe)
  const result = await page.evaluate('axe.run(document, { resultTypes: ["violations"] })') as { violations: Array<{ id: string, help: string, nodes: unknown[] }> }
  t.strictSame(result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.length}) ${JSON.stringify(v.nodes.slice(0, 2)).slice(0, 600)}`), [], `${what}: no accessibility violations`)
  const overflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth') as number
  t.equal(overflow, 0, `${what}: does not scroll sideways`)
}
