/** Safety numbers (API.md "Safety number"): 60 digits both sides compute alike, and their comparison. */
import { KEY_BYTES, requireLength, sha512, textField } from './crypto.js';
import { CryptoError } from './errors.js';
import { compareBytes, concat, utf8 } from './encoding.js';

const SN_CONTEXT = utf8('haven-sn-v1\0');
const EXTRA_ROUNDS = 5199;

/** @param {string} accountId @param {Uint8Array[]} identityKeys @returns {string} 30 digits */
function half(accountId, identityKeys) {
  const keys = identityKeys.map((k) => requireLength('identity key', k, KEY_BYTES));
  if (keys.length === 0) {
    throw new CryptoError('a safety number needs at least one identity key per account');
  }
  const joined = concat(...[...keys].sort(compareBytes));
  let h = sha512(
    concat(SN_CONTEXT, textField('account_id', accountId), new Uint8Array([0]), joined),
  );
  const buffer = new Uint8Array(64 + joined.length);
  buffer.set(joined, 64);
  for (let i = 0; i < EXTRA_ROUNDS; i++) {
    buffer.set(h, 0);
    h = sha512(buffer);
  }
  let digits = '';
  for (let i = 0; i < 30; i += 5) {
    // Five bytes exceed 32-bit integers; doubles hold 40 bits exactly.
    const value = h.subarray(i, i + 5).reduce((n, byte) => n * 256 + byte, 0) % 100000;
    digits += String(value).padStart(5, '0');
  }
  return digits;
}

/**
 * The two 30-digit halves ordered by account id bytes.
 * @param {string} accountA @param {Uint8Array[]} keysA @param {string} accountB @param {Uint8Array[]} keysB
 * @returns {string} 60 digits
 */
export function safetyNumber(accountA, keysA, accountB, keysB) {
  const halves = [
    { id: utf8(accountA), digits: half(accountA, keysA) },
    { id: utf8(accountB), digits: half(accountB, keysB) },
  ].sort((x, y) => compareBytes(x.id, y.id));
  return halves[0].digits + halves[1].digits;
}

/** @param {string} digits @returns {string[]} 12 groups of 5, for display side by side */
export function groupSafetyNumber(digits) {
  return digits.match(/\d{5}/g) ?? [];
}

/**
 * What a person typed, with or without spaces or dashes; null if it is not 60 digits.
 * @param {string} typed @returns {string | null}
 */
export function normalizeSafetyNumber(typed) {
  const digits = String(typed).replace(/[\s-]/g, '');
  return /^\d{60}$/.test(digits) ? digits : null;
}
