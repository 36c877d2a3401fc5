/**
 * The recovery key's text form (docs/history.md): `base58(0x48 0x01 ‖ rk ‖ parity)` with the Bitcoin
 * alphabet, shown in groups of four. A person writes it down and types it back, so parsing forgives
 * spaces and line breaks but nothing else, and a typo is caught by the parity byte.
 */
import { HavenError } from './errors.js';

export const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
export const RECOVERY_KEY_BYTES = 32;
const PREFIX = [0x48, 0x01];
const RAW_BYTES = PREFIX.length + RECOVERY_KEY_BYTES + 1;
const VALUES = new Map([...ALPHABET].map((c, i) => [c, i]));

/** The calm refusal a person sees for anything that is not a recovery key. */
export class RecoveryKeyMalformed extends HavenError {
  constructor() {
    super('recovery_key_malformed', 'That recovery key doesn’t look right — check for a typo');
    this.name = 'RecoveryKeyMalformed';
  }
}

/**
 * Standard base58: each leading zero byte becomes '1'.
 * @param {Uint8Array} bytes @returns {string}
 */
export function base58Encode(bytes) {
  let zeros = 0;
  while (zeros < bytes.length && bytes[zeros] === 0) zeros++;
  /** @type {number[]} little-endian base-58 digits */
  const digits = [];
  for (let i = zeros; i < bytes.length; i++) {
    let carry = bytes[i];
    for (let j = 0; j < digits.length; j++) {
      carry += digits[j] * 256;
      digits[j] = carry % 58;
      carry = Math.floor(carry / 58);
    }
    while (carry > 0) {
      digits.push(carry % 58);
      carry = Math.floor(carry / 58);
    }
  }
  return (
    '1'.repeat(zeros) +
    digits
      .reverse()
      .map((d) => ALPHABET[d])
      .join('')
  );
}

/**
 * @param {string} text only alphabet characters
 * @returns {Uint8Array | null} null when a character is outside the alphabet
 */
export function base58Decode(text) {
  let zeros = 0;
  while (zeros < text.length && text[zeros] === '1') zeros++;
  /** @type {number[]} little-endian bytes */
  const bytes = [];
  for (let i = zeros; i < text.length; i++) {
    const value = VALUES.get(text[i]);
    if (value === undefined) return null;
    let carry = value;
    for (let j = 0; j < bytes.length; j++) {
      carry += bytes[j] * 58;
      bytes[j] = carry & 0xff;
      carry >>= 8;
    }
    while (carry > 0) {
      bytes.push(carry & 0xff);
      carry >>= 8;
    }
  }
  const out = new Uint8Array(zeros + bytes.length);
  out.set(bytes.reverse(), zeros);
  return out;
}

/** @param {Uint8Array} bytes @returns {number} XOR of every byte */
function parity(bytes) {
  return bytes.reduce((x, b) => x ^ b, 0);
}

/**
 * The text a person writes down: groups of four characters separated by single spaces.
 * @param {Uint8Array} rk 32 bytes @returns {string}
 */
export function encodeRecoveryKey(rk) {
  if (!(rk instanceof Uint8Array) || rk.length !== RECOVERY_KEY_BYTES) {
    throw new HavenError('recovery_key_size', 'a recovery key is 32 bytes');
  }
  const raw = new Uint8Array(RAW_BYTES);
  raw.set(PREFIX, 0);
  raw.set(rk, PREFIX.length);
  raw[RAW_BYTES - 1] = parity(raw.subarray(0, RAW_BYTES - 1));
  return groupRecoveryKey(base58Encode(raw));
}

/** @param {string} compact the text without spaces @returns {string} groups of four */
export function groupRecoveryKey(compact) {
  return (compact.match(/.{1,4}/g) ?? []).join(' ');
}

/**
 * What a person typed, back to the 32 bytes; anything else is a `RecoveryKeyMalformed`.
 * @param {unknown} text @returns {Uint8Array}
 */
export function decodeRecoveryKey(text) {
  if (typeof text !== 'string') throw new RecoveryKeyMalformed();
  const compact = text.replace(/\s+/g, '');
  if (compact.length === 0 || compact.length > 64) throw new RecoveryKeyMalformed();
  const raw = base58Decode(compact);
  if (
    raw === null ||
    raw.length !== RAW_BYTES ||
    raw[0] !== PREFIX[0] ||
    raw[1] !== PREFIX[1] ||
    parity(raw.subarray(0, RAW_BYTES - 1)) !== raw[RAW_BYTES - 1]
  ) {
    throw new RecoveryKeyMalformed();
  }
  return raw.slice(PREFIX.length, PREFIX.length + RECOVERY_KEY_BYTES);
}
