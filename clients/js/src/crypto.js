/**
 * Keys, signatures and boxes of haven-v1 (API.md "Keys"): the one wrapper around libsodium's
 * primitives, so that every library exception becomes a `CryptoError` at a single seam.
 */
import { sodium } from './sodium.js';
import { CryptoError } from './errors.js';
import { concat, equalBytes, utf8 } from './encoding.js';

export const ALG = 'haven-v1';
export const KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;
export const NONCE_BYTES = 24;
export const TAG_BYTES = 16;
export const WRAPPED_KEY_BYTES = NONCE_BYTES + TAG_BYTES + KEY_BYTES;

const KX_CONTEXT = utf8('haven-kx-v1\0');
const LOGIN_CONTEXT = utf8('haven-login-v1\0');
const BACKUP_CONTEXT = utf8('haven-backup-v1\0');
const NUL = new Uint8Array([0]);

// libsodium's own small-order blocklist for X25519 (compared with the high bit masked).
const LOW_ORDER_X25519 = [
  '00'.repeat(32),
  '01' + '00'.repeat(31),
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
  'ec' + 'ff'.repeat(30) + '7f',
  'ed' + 'ff'.repeat(30) + '7f',
  'ee' + 'ff'.repeat(30) + '7f',
];

const LOW_ORDER_BYTES = LOW_ORDER_X25519.map(
  (hex) => new Uint8Array(hex.match(/../g)?.map((h) => parseInt(h, 16)) ?? []),
);

// crypto_box's shared keys (one X25519 each), kept in memory per key pair: opening a
// conversation of hundreds of messages from one sender then costs one key agreement.
const SHARED_KEYS = new Map();
const SHARED_KEYS_MAX = 256;

/** Forget every cached shared key (sign-out, panic). */
export function forgetSharedKeys() {
  for (const key of SHARED_KEYS.values()) sodium().memzero(key);
  SHARED_KEYS.clear();
}

/** @param {Uint8Array} ownKxPrivate @param {Uint8Array} peerKxPublic @returns {Uint8Array} */
function sharedKey(ownKxPrivate, peerKxPublic) {
  const id = String.fromCharCode(...ownKxPrivate, ...peerKxPublic);
  let key = SHARED_KEYS.get(id);
  if (key === undefined) {
    key = sodium().crypto_box_beforenm(peerKxPublic, ownKxPrivate);
    if (SHARED_KEYS.size >= SHARED_KEYS_MAX) SHARED_KEYS.delete(SHARED_KEYS.keys().next().value);
    SHARED_KEYS.set(id, key);
  }
  return key;
}

/**
 * @typedef {object} DeviceKeys a device's secrets: Ed25519 identity seed and X25519 kx private key
 * @property {Uint8Array} identitySeed
 * @property {Uint8Array} identityPublic
 * @property {Uint8Array} identitySecret 64-byte libsodium signing key
 * @property {Uint8Array} kxPrivate
 * @property {Uint8Array} kxPublic
 */

/** @param {number} size @returns {Uint8Array} fresh bytes from the platform CSPRNG */
export function randomBytes(size) {
  return sodium().randombytes_buf(size);
}

/**
 * @param {string} name @param {unknown} value @param {number} size
 * @returns {Uint8Array}
 */
export function requireLength(name, value, size) {
  if (!(value instanceof Uint8Array) || value.length !== size) {
    throw new CryptoError(`${name} must be ${size} bytes`);
  }
  return value;
}

/**
 * Rebuild keys from their secrets (a keystore, or test vectors).
 * @param {Uint8Array} identitySeed @param {Uint8Array} kxPrivate
 * @returns {DeviceKeys}
 */
export function deviceKeysFromSecrets(identitySeed, kxPrivate) {
  requireLength('identity seed', identitySeed, KEY_BYTES);
  requireLength('kx private key', kxPrivate, KEY_BYTES);
  const pair = sodium().crypto_sign_seed_keypair(identitySeed);
  return {
    identitySeed,
    identityPublic: pair.publicKey,
    identitySecret: pair.privateKey,
    kxPrivate,
    kxPublic: sodium().crypto_scalarmult_base(kxPrivate),
  };
}

/** @returns {DeviceKeys} a new device's identity and kx key pairs */
export function generateDeviceKeys() {
  return deviceKeysFromSecrets(randomBytes(KEY_BYTES), randomBytes(KEY_BYTES));
}

/** @param {DeviceKeys} keys @returns {DeviceKeys} same identity, new kx key (rotation) */
export function withNewKx(keys) {
  return deviceKeysFromSecrets(keys.identitySeed, randomBytes(KEY_BYTES));
}

/** @param {Uint8Array} kxPrivate @returns {Uint8Array} */
export function kxPublicOf(kxPrivate) {
  return sodium().crypto_scalarmult_base(requireLength('kx private key', kxPrivate, KEY_BYTES));
}

/** @param {Uint8Array} publicKey @returns {boolean} on libsodium's small-order blocklist */
export function isLowOrderX25519(publicKey) {
  requireLength('X25519 public key', publicKey, KEY_BYTES);
  const masked = Uint8Array.from(publicKey);
  masked[31] &= 0x7f;
  return LOW_ORDER_BYTES.some((point) => point.every((byte, i) => byte === masked[i]));
}

/** @param {Uint8Array} publicKey @returns {Uint8Array} the key, if usable for key agreement */
export function checkX25519Public(publicKey) {
  if (isLowOrderX25519(publicKey)) throw new CryptoError('X25519 public key is a low-order point');
  return publicKey;
}

/** @param {Uint8Array} identitySecret @param {Uint8Array} message @returns {Uint8Array} */
export function signDetached(identitySecret, message) {
  return sodium().crypto_sign_detached(message, identitySecret);
}

/**
 * crypto_sign_verify_detached's rules; never throws.
 * @param {Uint8Array} identityPublic @param {Uint8Array} message @param {Uint8Array} signature
 * @returns {boolean}
 */
export function verifyDetached(identityPublic, message, signature) {
  if (identityPublic.length !== KEY_BYTES || signature.length !== SIGNATURE_BYTES) return false;
  try {
    return sodium().crypto_sign_verify_detached(signature, message, identityPublic);
  } catch {
    return false;
  }
}

/** UTF-8 of a NUL-separated field; a NUL inside would let two inputs collide. */
/** @param {string} name @param {unknown} value @returns {Uint8Array} */
export function textField(name, value) {
  if (typeof value !== 'string' || !value || value.includes('\0')) {
    throw new CryptoError(`${name} must be a non-empty string without NUL`);
  }
  return utf8(value);
}

/** @param {string} handle @param {Uint8Array} kxPublic @returns {Uint8Array} */
export function kxSignatureInput(handle, kxPublic) {
  requireLength('kx_public', kxPublic, KEY_BYTES);
  return concat(KX_CONTEXT, textField('handle', handle.toLowerCase()), NUL, kxPublic);
}

/** @param {DeviceKeys} keys @param {string} handle @returns {Uint8Array} the kx_signature */
export function signKx(keys, handle) {
  return signDetached(keys.identitySecret, kxSignatureInput(handle, keys.kxPublic));
}

/**
 * A kx key is trusted only once this holds under the handle of the account that lists it.
 * @param {Uint8Array} identityPublic @param {string} handle @param {Uint8Array} kxPublic
 * @param {Uint8Array} signature @returns {boolean}
 */
export function verifyKxSignature(identityPublic, handle, kxPublic, signature) {
  let message;
  try {
    message = kxSignatureInput(handle, kxPublic);
  } catch {
    return false;
  }
  return verifyDetached(identityPublic, message, signature);
}

/**
 * @param {string} handle @param {number} ts unix seconds (a JSON integer)
 * @param {Uint8Array} identityPublic @param {Uint8Array} kxPublic @returns {Uint8Array}
 */
export function loginProofInput(handle, ts, identityPublic, kxPublic) {
  if (!Number.isSafeInteger(ts)) throw new CryptoError('ts must be an integer');
  requireLength('identity_public', identityPublic, KEY_BYTES);
  requireLength('kx_public', kxPublic, KEY_BYTES);
  const head = concat(LOGIN_CONTEXT, textField('handle', handle.toLowerCase()), NUL);
  return concat(head, utf8(String(ts)), NUL, identityPublic, kxPublic);
}

/** @param {DeviceKeys} keys @param {string} handle @param {number} ts @returns {Uint8Array} */
export function signLoginProof(keys, handle, ts) {
  const message = loginProofInput(handle, ts, keys.identityPublic, keys.kxPublic);
  return signDetached(keys.identitySecret, message);
}

/**
 * @param {Uint8Array} identityPublic @param {string} handle @param {number} ts
 * @param {Uint8Array} kxPublic @param {Uint8Array} proof @returns {boolean}
 */
export function verifyLoginProof(identityPublic, handle, ts, kxPublic, proof) {
  let message;
  try {
    message = loginProofInput(handle, ts, identityPublic, kxPublic);
  } catch {
    return false;
  }
  return verifyDetached(identityPublic, message, proof);
}

/** @param {string} handle @param {Uint8Array} kxPublic @returns {Uint8Array} backup-key signature input */
export function backupSignatureInput(handle, kxPublic) {
  requireLength('kx_public', kxPublic, KEY_BYTES);
  return concat(BACKUP_CONTEXT, textField('handle', handle.toLowerCase()), NUL, kxPublic);
}

/**
 * XChaCha20-Poly1305-IETF; ciphertext followed by the 16-byte tag.
 * @param {Uint8Array} payload @param {Uint8Array} aad @param {Uint8Array} nonce @param {Uint8Array} key
 * @returns {Uint8Array}
 */
export function aeadEncrypt(payload, aad, nonce, key) {
  requireLength('nonce', nonce, NONCE_BYTES);
  requireLength('content key', key, KEY_BYTES);
  return sodium().crypto_aead_xchacha20poly1305_ietf_encrypt(payload, aad, null, nonce, key);
}

/**
 * @param {Uint8Array} ciphertext @param {Uint8Array} aad @param {Uint8Array} nonce @param {Uint8Array} key
 * @returns {Uint8Array} all or nothing
 */
export function aeadDecrypt(ciphertext, aad, nonce, key) {
  requireLength('nonce', nonce, NONCE_BYTES);
  requireLength('content key', key, KEY_BYTES);
  try {
    return sodium().crypto_aead_xchacha20poly1305_ietf_decrypt(null, ciphertext, aad, nonce, key);
  } catch {
    throw new CryptoError('ciphertext does not authenticate', 'ciphertext');
  }
}

/**
 * crypto_box_easy laid out as nonce(24) ‖ MAC(16) ‖ ciphertext (PyNaCl's Box.encrypt).
 * @param {Uint8Array} secret @param {Uint8Array} ownKxPrivate @param {Uint8Array} peerKxPublic
 * @param {Uint8Array | null} [nonce] only for deterministic test vectors
 * @returns {Uint8Array}
 */
export function boxWrap(secret, ownKxPrivate, peerKxPublic, nonce = null) {
  checkX25519Public(peerKxPublic);
  const boxNonce = nonce ?? randomBytes(NONCE_BYTES);
  requireLength('box nonce', boxNonce, NONCE_BYTES);
  const box = sodium().crypto_box_easy_afternm(
    secret,
    boxNonce,
    sharedKey(ownKxPrivate, peerKxPublic),
  );
  return concat(boxNonce, box);
}

/**
 * @param {Uint8Array} wrapped @param {Uint8Array} ownKxPrivate @param {Uint8Array} peerKxPublic
 * @returns {Uint8Array} the secret; throws `CryptoError` if the box was not made for us
 */
export function boxUnwrap(wrapped, ownKxPrivate, peerKxPublic) {
  checkX25519Public(peerKxPublic);
  if (wrapped.length < NONCE_BYTES + TAG_BYTES) throw new CryptoError('key box too short', 'keys');
  try {
    return sodium().crypto_box_open_easy_afternm(
      wrapped.subarray(NONCE_BYTES),
      wrapped.subarray(0, NONCE_BYTES),
      sharedKey(ownKxPrivate, peerKxPublic),
    );
  } catch {
    throw new CryptoError('key box does not open', 'keys');
  }
}

/** @param {Uint8Array} data @returns {Uint8Array} SHA-512 */
export function sha512(data) {
  return sodium().crypto_hash(data);
}

/**
 * @param {Uint8Array} data @param {number} size @param {Uint8Array | null} [key]
 * @returns {Uint8Array} BLAKE2b
 */
export function blake2b(data, size, key = null) {
  return sodium().crypto_generichash(size, data, key);
}

/** @param {Uint8Array} a @param {Uint8Array} b @returns {boolean} constant time for equal lengths */
export function constantTimeEqual(a, b) {
  return a.length === b.length && sodium().memcmp(a, b);
}

export { equalBytes };
