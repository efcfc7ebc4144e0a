/**
 * Texts a deployment writes for the person (in the connector file and CONTROLLER_FILE): one string,
 * taken as English, or one per language. Kept apart from their schemas so that what only shows
 * them (the archive builder) loads no schema library.
 */

/** The languages the archive's own texts exist in. */
export const LANGUAGES = ['en', 'zh-Hans'] as const
export type Language = typeof LANGUAGES[number]

export type Text = string | { en: string, 'zh-Hans'?: string }

/** The text in `language`, or its English. */
export function inLanguage (text: Text, language: Language): string {
  return typeof text === 'string' ? text : text[language] ?? text.en
}
