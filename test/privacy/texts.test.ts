import t from 'tap'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pickLanguage, readPrivacyCentreFile, SHIPPED_PRIVACY_CENTRE_FILE } from '../../src/privacy-centre/texts.js'

t.test('the shipped file offers every right but correction, in English and Simplified Chinese', async (t) => {
  const config = readPrivacyCentreFile(undefined)
  t.strictSame(config.languages, ['en', 'zh-Hans'])
  t.notOk((config.rights as string[]).includes('rectification'))
  t.equal(config.texts['zh-Hans']!.title, '隐私中心')
})

t.test('a file that does not read, or lacks a text, stops the service and names what is wrong', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dsr-centre-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const shipped = JSON.parse(readFileSync(SHIPPED_PRIVACY_CENTRE_FILE, 'utf8'))
  const write = async (name: string, value: unknown) => {
    const path = join(dir, name)
    await writeFile(path, typeof value === 'string' ? value : JSON.stringify(value))
    return path
  }
  t.throws(() => readPrivacyCentreFile(join(dir, 'missing.json')), /PRIVACY_CENTRE_FILE: cannot read/)
  const f1 = await write('broken.json', '{ "regime": ')
  t.throws(() => readPrivacyCentreFile(f1), /does not parse/)
  const f2 = await write('no-zh.json', { ...shipped, texts: { en: shipped.texts.en } })
  t.throws(() => readPrivacyCentreFile(f2),
    /\/texts has no "zh-Hans", and "zh-Hans" is one of \/languages/)
  const { submit: _submit, ...withoutSubmit } = shipped.texts.en
  const f3 = await write('no-submit.json', { ...shipped, texts: { ...shipped.texts, en: withoutSubmit } })
  t.throws(() => readPrivacyCentreFile(f3), /\/texts\/en must have required properties submit/)
  const f4 = await write('rectification.json', { ...shipped, rights: ['access', 'rectification'] })
  t.throws(() => readPrivacyCentreFile(f4), /\/rights\/1/)
  const f5 = await write('unknown-code.json', { ...shipped, texts: { ...shipped.texts, en: { ...shipped.texts.en, messages: { DSR_NO_SUCH_CODE: 'x' } } } })
  t.throws(() => readPrivacyCentreFile(f5),
    /\/texts\/en\/messages names DSR_NO_SUCH_CODE, which is not an error code of the service/)
  const englishOnly = readPrivacyCentreFile(await write('en.json', { ...shipped, languages: ['en'], texts: { en: shipped.texts.en } }))
  t.strictSame(englishOnly.languages, ['en'], 'one language is enough')
})

t.test('the page\'s language: ?lang, else the browser\'s preference among those offered, else the first offered', async (t) => {
  const both = ['en', 'zh-Hans'] as const
  t.equal(pickLanguage(both, undefined, undefined), 'en')
  t.equal(pickLanguage(both, undefined, 'zh-CN,zh;q=0.9,en;q=0.8'), 'zh-Hans')
  t.equal(pickLanguage(both, undefined, 'en-GB,en;q=0.9,zh;q=0.8'), 'en')
  t.equal(pickLanguage(both, undefined, 'de, zh;q=0.8, en;q=0.9'), 'en', 'by q-value')
  t.equal(pickLanguage(both, undefined, 'fr-FR'), 'en', 'none offered: the first')
  t.equal(pickLanguage(both, 'zh-CN', 'en'), 'zh-Hans', '?lang wins, zh-CN read as Simplified Chinese')
  t.equal(pickLanguage(both, 'klingon', 'zh'), 'zh-Hans', 'an unknown ?lang is ignored')
  t.equal(pickLanguage(['zh-Hans', 'en'], undefined, undefined), 'zh-Hans', 'a deployment may put Chinese first')
  t.equal(pickLanguage(['en'], 'zh-Hans', 'zh'), 'en', 'a language not offered is never shown')
})
