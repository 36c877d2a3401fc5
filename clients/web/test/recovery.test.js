import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groupsMatch, groupsOf, pickGroups } from '../src/recovery.js';

const KEY = '8Bhz 57im 3xG8 P1gq k8pN JzrD rVwW 4GHW txE8 vtM3 VMiE ed8n';

test('a key splits into its twelve groups', () => {
  assert.equal(groupsOf(KEY).length, 12);
  assert.equal(groupsOf(` ${KEY}\n`)[11], 'ed8n');
});

test('two different positions, ascending, within the key, whatever the random source gives', () => {
  for (const r of [0, 0.01, 0.5, 0.99, 0.999999]) {
    const [a, b] = pickGroups(12, () => r);
    assert.ok(a >= 1 && b <= 12 && a < b, `${r}: ${a}, ${b}`);
  }
  const seen = new Set();
  for (let i = 0; i < 500; i++) seen.add(pickGroups(12).join(','));
  assert.ok(seen.size > 30);
});

test('the typed groups must be exactly those groups (case matters, spaces around do not)', () => {
  assert.ok(groupsMatch(KEY, [2, 12], ['57im', ' ed8n ']));
  assert.ok(!groupsMatch(KEY, [2, 12], ['57IM', 'ed8n']));
  assert.ok(!groupsMatch(KEY, [2, 12], ['ed8n', '57im']));
  assert.ok(!groupsMatch(KEY, [2, 12], ['57im']));
  assert.ok(!groupsMatch(KEY, [2, 12], ['', '']));
});
