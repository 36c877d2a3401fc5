/**
 * The backup key (docs/history.md): an X25519 key pair derived from the recovery key, published with
 * the account's devices as a recipient of kind `backup` and signed by device identity keys. Senders
 * wrap for it only when a signature verifies under an active device of that same listing; restore
 * opens a message's wrap for it exactly as a device opens its own.
 */
import { sodium } from './sodium.js';
import {
  KEY_BYTES,
  backupSignatureInput,
  checkX25519Public,
  requireLength,
  signDetached,
  verifyDetached,
} from './crypto.js';
import { b64d, b64e, utf8 } from './encoding.js';
import { HavenError } from './errors.js';
import { RECOVERY_KEY_BYTES } from './recovery-key.js';

const HKDF_INFO = /** @type {Uint8Array<ArrayBuffer>} */ (utf8('haven/backup/v1'));
const HKDF_SALT = new Uint8Array(32);

/**
 * @typedef {object} BackupKeyPair
 * @property {Uint8Array} publicKey the `kx_key` published with `PUT /v1/me/backup`
 * @property {Uint8Array} secret the private half (`backup_secret`)
 */

/**
 * `HKDF-SHA256(IKM = rk, salt = 32 zero bytes, info = "haven/backup/v1", L = 32)` (RFC 5869), by
 * WebCrypto: libsodium's standard build has no HMAC-SHA256.
 * @param {Uint8Array} rk @returns {Promise<Uint8Array>}
 */
export async function backupSeed(rk) {
  requireLength('recovery key', rk, RECOVERY_KEY_BYTES);
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) {
    throw new HavenError(
      'no_webcrypto',
      'this browser offers no WebCrypto (an https page needs it)',
    );
  }
  const ikm = await subtle.importKey('raw', Uint8Array.from(rk), 'HKDF', false, ['deriveBits']);
  const bits = await subtle.deriveBits(
    { name: 'HKDF', hash: 'SHA-256', salt: HKDF_SALT, info: HKDF_INFO },
    ikm,
    KEY_BYTES * 8,
  );
  return new Uint8Array(bits);
}

/** @param {Uint8Array} seed 32 bytes @returns {BackupKeyPair} libsodium's crypto_box_seed_keypair */
export function backupKeyPairFromSeed(seed) {
  const pair = sodium().crypto_box_seed_keypair(requireLength('backup seed', seed, KEY_BYTES));
  return { publicKey: pair.publicKey, secret: pair.privateKey };
}

/** @param {Uint8Array} rk @returns {Promise<BackupKeyPair>} */
export async function backupKeyPair(rk) {
  return backupKeyPairFromSeed(await backupSeed(rk));
}

/** @param {Uint8Array} secret a stored or received `backup_secret` @returns {Uint8Array} its public key */
export function backupPublicOf(secret) {
  return sodium().crypto_scalarmult_base(requireLength('backup secret', secret, KEY_BYTES));
}

/**
 * One device's signature over the backup key, for `signatures[device_id]`.
 * @param {Uint8Array} identitySecret @param {string} handle @param {Uint8Array} kxKey
 * @returns {Uint8Array}
 */
export function signBackupKey(identitySecret, handle, kxKey) {
  return signDetached(identitySecret, backupSignatureInput(handle, kxKey));
}

/**
 * The trust rule: at least one signature verifies under one of `identityKeys` (device id → key).
 * @param {string} handle @param {Uint8Array} kxKey @param {unknown} signatures `{device_id: b64u}`
 * @param {Map<string, Uint8Array>} identityKeys
 * @returns {boolean}
 */
export function backupKeySigned(handle, kxKey, signatures, identityKeys) {
  if (typeof signatures !== 'object' || signatures === null) return false;
  let message;
  try {
    message = backupSignatureInput(handle, kxKey);
  } catch {
    return false;
  }
  return Object.entries(signatures).some(([signer, sig]) => {
    const key = identityKeys.get(signer);
    if (key === undefined || typeof sig !== 'string') return false;
    try {
      return verifyDetached(key, message, b64d(sig));
    } catch {
      return false;
    }
  });
}

/**
 * The body of `PUT /v1/me/backup`, signed by this device.
 * @param {BackupKeyPair} pair @param {string} deviceId @param {Uint8Array} identitySecret @param {string} handle
 */
export function backupBody(pair, deviceId, identitySecret, handle) {
  checkX25519Public(pair.publicKey);
  return {
    kx_key: b64e(pair.publicKey),
    signatures: { [deviceId]: b64e(signBackupKey(identitySecret, handle, pair.publicKey)) },
  };
}
