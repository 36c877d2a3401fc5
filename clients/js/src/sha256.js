/**
 * Incremental SHA-256 from libsodium. The standard build has no SHA-256, so this is the one use of
 * the sumo build outside argon2id: loaded lazily, and only once a file is sent or opened. WebCrypto's
 * digest would need the whole blob in one buffer; this hashes a blob chunk by chunk as it streams.
 */
import { sodiumSumo } from './sodium.js';

/**
 * @typedef {object} Sha256
 * @property {(bytes: Uint8Array) => void} update
 * @property {() => Uint8Array} digest 32 bytes; the hasher is used up
 */

/** @returns {Promise<Sha256>} a fresh incremental SHA-256 */
export async function sha256Hasher() {
  const lib = await sodiumSumo();
  const state = lib.crypto_hash_sha256_init();
  let done = false;
  return {
    update(bytes) {
      if (done) throw new Error('this SHA-256 is finished');
      if (bytes.length) lib.crypto_hash_sha256_update(state, bytes);
    },
    digest() {
      if (done) throw new Error('this SHA-256 is finished');
      done = true;
      return lib.crypto_hash_sha256_final(state);
    },
  };
}

/** @param {Uint8Array} bytes @returns {Promise<Uint8Array>} SHA-256 of bytes held in memory */
export async function sha256(bytes) {
  const hasher = await sha256Hasher();
  hasher.update(bytes);
  return hasher.digest();
}
