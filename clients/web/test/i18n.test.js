import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { CATALOGUES, t, setLanguage, fill } from '../src/i18n/index.js';

const SRC = new URL('../src/', import.meta.url);

/** Every t('…') key used in the source. */
async function usedKeys() {
  const keys = new Set();
  for (const dir of ['', 'views/']) {
    for (const name of await readdir(new URL(dir, SRC))) {
      if (!name.endsWith('.js')) continue;
      const text = await readFile(new URL(dir + name, SRC), 'utf8');
      for (const match of text.matchAll(/\bt\(\s*'([a-zA-Z0-9_.]+)'/g)) keys.add(match[1]);
    }
  }
  return keys;
}

test('every language has exactly the English keys, none empty', () => {
  const english = Object.keys(CATALOGUES.en).sort();
  for (const [lang, catalogue] of Object.entries(CATALOGUES)) {
    assert.deepEqual(Object.keys(catalogue).sort(), english, `${lang} differs from en`);
    for (const [key, value] of Object.entries(catalogue)) assert.ok(value.trim(), `${lang}.${key} is empty`);
  }
});

test('every key the screens use is in the catalogue', async () => {
  const missing = [...(await usedKeys())].filter((key) => !(key in CATALOGUES.en));
  assert.deepEqual(missing, []);
});

test('placeholders are the same in every language', () => {
  const names = (/** @type {string} */ s) => [...new Set([...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]))].sort();
  for (const [lang, catalogue] of Object.entries(CATALOGUES)) {
    for (const [key, value] of Object.entries(catalogue)) {
      assert.deepEqual(names(value), names(CATALOGUES.en[key]), `${lang}.${key}`);
    }
  }
});

test('the accessible names the journeys rely on are exact in English', () => {
  setLanguage('en');
  assert.equal(t('field.handle'), 'Handle');
  assert.equal(t('field.password'), 'Password');
  assert.equal(t('field.invite'), 'Invite code');
  assert.equal(t('field.message'), 'Message');
  assert.equal(t('signin.submit'), 'Sign in');
  assert.equal(t('register.submit'), 'Create account');
  assert.equal(t('chat.send'), 'Send');
  assert.equal(t('leave.button'), 'Leave quickly');
  assert.equal(t('chat.sendingShortly'), 'Sending shortly…');
});

test('client-facing copy never says "Not sent" or "Retry-After"', () => {
  for (const [lang, catalogue] of Object.entries(CATALOGUES)) {
    for (const [key, value] of Object.entries(catalogue)) {
      assert.doesNotMatch(value, /not sent|retry-after/i, `${lang}.${key}`);
    }
  }
});

test('placeholders are filled and unknown ones left visible', () => {
  assert.equal(fill('{name} has {count}', { name: 'Sam', count: 2 }), 'Sam has 2');
  assert.equal(fill('{who}', {}), '{who}');
  setLanguage('de');
  assert.equal(t('field.message'), CATALOGUES.de['field.message']);
  setLanguage('xx');
  assert.equal(t('chat.send'), 'Send');
});
