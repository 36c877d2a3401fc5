/**
 * Linking a new device (docs/history.md): the short code both devices show before the user approves,
 * and the secret transfer — the backup key's private half boxed from the approving device's kx key to
 * the new device's. The code is derived from both identity keys (order-independent), like a safety
 * number, so a server that swapped either key shows two different codes.
 */
import { KEY_BYTES, boxUnwrap, boxWrap, requireLength, sha512, textField } from './crypto.js';
import { b64d, b64e, compareBytes, concat, fromUtf8, utf8 } from './encoding.js';
import { HavenError } from './errors.js';

const LINK_CONTEXT = utf8('haven-link-v1\0');
const EXTRA_ROUNDS = 5199;

/**
 * The three groups of four digits both devices show: "1234 5678 9012".
 * @param {string} accountId @param {Uint8Array} identityKeyA @param {Uint8Array} identityKeyB
 * @returns {string}
 */
export function linkCode(accountId, identityKeyA, identityKeyB) {
  const keys = [identityKeyA, identityKeyB].map((k) => requireLength('identity key', k, KEY_BYTES));
  const joined = concat(...keys.sort(compareBytes));
  let h = sha512(
    concat(LINK_CONTEXT, textField('account_id', accountId), new Uint8Array([0]), joined),
  );
  const buffer = new Uint8Array(64 + joined.length);
  buffer.set(joined, 64);
  for (let i = 0; i < EXTRA_ROUNDS; i++) {
    buffer.set(h, 0);
    h = sha512(buffer);
  }
  const groups = [];
  for (let i = 0; i < 15; i += 5) {
    // Five bytes exceed 32-bit integers; doubles hold 40 bits exactly.
    const value = h.subarray(i, i + 5).reduce((n, byte) => n * 256 + byte, 0) % 10000;
    groups.push(String(value).padStart(4, '0'));
  }
  return groups.join(' ');
}

/** @param {string} typed @returns {string} the 12 digits, whatever the spacing */
export function normalizeLinkCode(typed) {
  return String(typed).replace(/[\s-]/g, '');
}

/** @typedef {{backupId: string | null, backupSecret: Uint8Array | null}} LinkSecret */

/**
 * The plaintext of a transfer, compact UTF-8 JSON in this exact key order.
 * @param {LinkSecret} secret @returns {Uint8Array}
 */
export function linkPlaintext(secret) {
  const body =
    secret.backupId === null || secret.backupSecret === null
      ? { v: 1, backup_id: null, backup_secret: null }
      : {
          v: 1,
          backup_id: secret.backupId,
          backup_secret: b64e(requireLength('backup secret', secret.backupSecret, KEY_BYTES)),
        };
  return utf8(JSON.stringify(body));
}

/**
 * The `ciphertext` of `POST /v1/devices/{id}/link`: box(plaintext, approver kx → new device kx).
 * @param {LinkSecret} secret @param {Uint8Array} approverKxPrivate @param {Uint8Array} newDeviceKxPublic
 * @param {Uint8Array | null} [nonce] only for deterministic vectors
 * @returns {string} base64url of nonce(24) ‖ MAC(16) ‖ ct
 */
export function sealLinkSecret(secret, approverKxPrivate, newDeviceKxPublic, nonce = null) {
  return b64e(boxWrap(linkPlaintext(secret), approverKxPrivate, newDeviceKxPublic, nonce));
}

/**
 * Open a transfer on the new device; anything but an intact box of the exact format is refused.
 * @param {string} ciphertext @param {Uint8Array} ownKxPrivate @param {Uint8Array} senderKxPublic
 * @returns {LinkSecret}
 */
export function openLinkSecret(ciphertext, ownKxPrivate, senderKxPublic) {
  let parsed;
  try {
    parsed = JSON.parse(fromUtf8(boxUnwrap(b64d(ciphertext), ownKxPrivate, senderKxPublic)));
  } catch {
    throw new HavenError('link_unopenable', 'the link was not sealed for this device by that one');
  }
  const keys = parsed && typeof parsed === 'object' ? Object.keys(parsed).sort().join(',') : '';
  if (keys !== 'backup_id,backup_secret,v' || parsed.v !== 1) {
    throw new HavenError('link_malformed', 'the link does not carry a known format');
  }
  if (parsed.backup_id === null && parsed.backup_secret === null) {
    return { backupId: null, backupSecret: null };
  }
  let secret;
  try {
    secret = b64d(parsed.backup_secret);
  } catch {
    secret = null;
  }
  if (typeof parsed.backup_id !== 'string' || !parsed.backup_id || secret?.length !== KEY_BYTES) {
    throw new HavenError('link_malformed', 'the link does not carry a known format');
  }
  return { backupId: parsed.backup_id, backupSecret: secret };
}
