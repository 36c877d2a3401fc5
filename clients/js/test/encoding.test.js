// Canonical base64url: the one accepted spelling of every byte string (signed bytes have no twins).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

import { b64d, b64e } from '../src/index.js';

test('round trips agree with Node for every length up to 70', () => {
  for (let n = 0; n <= 70; n++) {
    const bytes = new Uint8Array(randomBytes(n));
    const text = b64e(bytes);
    assert.equal(text, Buffer.from(bytes).toString('base64url'));
    assert.deepEqual(b64d(text), bytes);
  }
});

test('padding, the standard alphabet, impossible lengths and set trailing bits are refused', () => {
  for (const bad of ['AA==', 'ab+/', 'A', 'AB', 'AAB', 'A A', 42, null]) {
    assert.throws(() => b64d(bad), TypeError, String(bad));
  }
  assert.deepEqual(b64d('AA'), new Uint8Array([0]));
  assert.deepEqual(b64d('AAA'), new Uint8Array([0, 0]));
});
