/** The copy catalogue: every user-facing string comes from here, in the reader's language. */
import en from './en.json' with { type: 'json' };
import de from './de.json' with { type: 'json' };

/** @type {Record<string, Record<string, string>>} */
export const CATALOGUES = { en, de };
export const LANGUAGES = /** @type {const} */ ([
  ['en', 'English'],
  ['de', 'Deutsch'],
]);

let current = 'en';

/** @param {string} lang */
export function setLanguage(lang) {
  current = lang in CATALOGUES ? lang : 'en';
  try {
    document.documentElement.lang = current;
  } catch {
    // Outside a browser (unit tests) there is no document.
  }
  return current;
}

export function language() {
  return current;
}

/** The locale for dates and times: the browser's own when it speaks the chosen language. */
export function locale() {
  const browser = globalThis.navigator?.language ?? '';
  return browser.toLowerCase().startsWith(current) ? browser : current;
}

/**
 * The string for `key` with `{name}` placeholders filled; English when a language lacks it.
 * @param {string} key
 * @param {Record<string, string | number>} [params]
 */
export function t(key, params = {}) {
  const template = CATALOGUES[current][key] ?? en[/** @type {keyof typeof en} */ (key)] ?? key;
  return fill(template, params);
}

/**
 * @param {string} template
 * @param {Record<string, string | number>} params
 */
export function fill(template, params) {
  return template.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/** The language to start in: the one chosen before, else the browser's, else English. */
export function preferredLanguage() {
  try {
    const chosen = localStorage.getItem('haven.lang');
    if (chosen && chosen in CATALOGUES) return chosen;
  } catch {
    // No storage: fall through to the browser's language.
  }
  const browser = (globalThis.navigator?.language ?? 'en').slice(0, 2);
  return browser in CATALOGUES ? browser : 'en';
}
