/**
 * The device's memory as plain JSON-able data (base64url strings), versioned, behind the `KeyStore`
 * interface `{load, save, clear}`: the SDK ships `MemoryKeyStore`; a browser app supplies an
 * IndexedDB one that encrypts at rest. `sealState`/`openState` protect a state with a passphrase
 * (argon2id from the lazily loaded sumo build) for stores that have no key of their own.
 */
import { sodiumSumo } from './sodium.js';
import { b64d, b64e, fromUtf8, utf8 } from './encoding.js';
import { HavenError } from './errors.js';

export const STATE_VERSION = 1;

/**
 * @typedef {object} KeyStore where the SDK keeps a device's state
 * @property {() => Promise<object | null>} load
 * @property {(state: object) => Promise<void>} save
 * @property {() => Promise<void>} clear
 */

/**
 * @typedef {object} StoredParticipant
 * @property {string} account_id
 * @property {string} handle lowercase, as first seen: kx signatures are checked against it
 * @property {string} display_name
 * @property {string} role
 */

/**
 * @typedef {object} StoredConversation this device's own record (aad and handles come from here)
 * @property {string} conversation_id
 * @property {string} status
 * @property {number | null} [retention_days] effective retention (null: kept); decides how long old kx keys stay
 * @property {StoredParticipant[]} participants
 */

/**
 * @typedef {object} OldKx a retired kx key, kept while a kept message may still need it
 * @property {string} private
 * @property {string} retiredAt ISO time
 */

/**
 * @typedef {object} State version 1
 * @property {number} version
 * @property {string | null} identitySeed
 * @property {string | null} kxPrivate
 * @property {string | null} kxCreatedAt ISO time the current kx key was made
 * @property {OldKx[]} oldKx
 * @property {string | null} deviceId
 * @property {string} deviceName
 * @property {{account_id: string, handle: string, role: string, display_name: string} | null} account
 * @property {string | null} refreshToken
 * @property {Record<string, Record<string, string>>} listedDevices account → device → identity key pinned from a listing
 * @property {Record<string, string[]>} disputedDevices account → devices later shown with another key
 * @property {Record<string, string[]>} seenKx device → verified kx keys (oldest first)
 * @property {Record<string, string>} verified account → safety number the user verified
 * @property {Record<string, string>} lastSafety account → last computed safety number
 * @property {Record<string, string>} pendingKeyChanges account → reason, until acknowledged
 * @property {Record<string, number>} lastSeq conversation → processed high-water mark
 * @property {Record<string, Record<string, number>>} seenIds conversation → message id → seq
 * @property {Record<string, StoredConversation>} conversations
 * @property {Array<Record<string, string>>} crisisResources cached for offline display
 * @property {{backupId: string, secret: string, earlierIds?: string[]} | null} backup the backup key's private half, when this
 *   device turned backup on, was linked, or was asked to keep it after a restore (never the recovery key)
 * @property {Record<string, Record<string, string>>} restoredKeys conversation → message id → content key
 *   of a message opened through the backup key (it stays readable here without the recovery key)
 */

/** @returns {State} an empty state */
export function emptyState() {
  return {
    version: STATE_VERSION,
    identitySeed: null,
    kxPrivate: null,
    kxCreatedAt: null,
    oldKx: [],
    deviceId: null,
    deviceName: '',
    account: null,
    refreshToken: null,
    listedDevices: {},
    disputedDevices: {},
    seenKx: {},
    verified: {},
    lastSafety: {},
    pendingKeyChanges: {},
    lastSeq: {},
    seenIds: {},
    conversations: {},
    crisisResources: [],
    backup: null,
    restoredKeys: {},
  };
}

/**
 * A loaded state, checked and completed with defaults; refuses other versions.
 * @param {unknown} raw @returns {State}
 */
export function normalizeState(raw) {
  if (raw === null || raw === undefined) return emptyState();
  if (typeof raw !== 'object' || /** @type {any} */ (raw).version !== STATE_VERSION) {
    throw new HavenError('keystore_invalid', 'not a Haven keystore state of a known version');
  }
  return { ...emptyState(), .../** @type {object} */ (raw) };
}

/** Keeps the state in memory only: nothing survives a reload (a shared computer's default). */
export class MemoryKeyStore {
  /** @param {object | null} [initial] */
  constructor(initial = null) {
    /** @type {string | null} */
    this._json = initial === null ? null : JSON.stringify(initial);
  }

  async load() {
    return this._json === null ? null : JSON.parse(this._json);
  }

  /** @param {object} state */
  async save(state) {
    this._json = JSON.stringify(state);
  }

  async clear() {
    this._json = null;
  }
}

/**
 * @typedef {object} SealedState
 * @property {'haven-state'} format
 * @property {1} version
 * @property {{alg: 'argon2id', salt: string, opslimit: number, memlimit: number}} kdf
 * @property {string} nonce
 * @property {string} box
 */

/**
 * Encrypt a state under a passphrase (argon2id + XSalsa20-Poly1305 secretbox).
 * @param {object} state @param {string} passphrase
 * @param {{opslimit?: number, memlimit?: number}} [cost] defaults to libsodium's "interactive"
 * @returns {Promise<SealedState>}
 */
export async function sealState(state, passphrase, cost = {}) {
  const s = await sodiumSumo();
  if (!passphrase) throw new HavenError('empty_passphrase', 'an empty passphrase protects nothing');
  const salt = s.randombytes_buf(s.crypto_pwhash_SALTBYTES);
  const opslimit = cost.opslimit ?? s.crypto_pwhash_OPSLIMIT_INTERACTIVE;
  const memlimit = cost.memlimit ?? s.crypto_pwhash_MEMLIMIT_INTERACTIVE;
  const key = derive(s, passphrase, salt, opslimit, memlimit);
  const nonce = s.randombytes_buf(s.crypto_secretbox_NONCEBYTES);
  const box = s.crypto_secretbox_easy(utf8(JSON.stringify(state)), nonce, key);
  s.memzero(key);
  return {
    format: 'haven-state',
    version: 1,
    kdf: { alg: 'argon2id', salt: b64e(salt), opslimit, memlimit },
    nonce: b64e(nonce),
    box: b64e(box),
  };
}

/**
 * The inverse of `sealState`; a wrong passphrase (or a tampered blob) throws `wrong_passphrase`.
 * @param {SealedState} sealed @param {string} passphrase @returns {Promise<object>}
 */
export async function openState(sealed, passphrase) {
  const s = await sodiumSumo();
  if (sealed?.format !== 'haven-state' || sealed.kdf?.alg !== 'argon2id') {
    throw new HavenError('keystore_invalid', 'not a sealed Haven state');
  }
  const key = derive(
    s,
    passphrase,
    b64d(sealed.kdf.salt),
    sealed.kdf.opslimit,
    sealed.kdf.memlimit,
  );
  let plain;
  try {
    plain = s.crypto_secretbox_open_easy(b64d(sealed.box), b64d(sealed.nonce), key);
  } catch {
    throw new HavenError('wrong_passphrase', 'the passphrase does not open this state');
  } finally {
    s.memzero(key);
  }
  return JSON.parse(fromUtf8(plain));
}

/**
 * @param {any} s @param {string} passphrase @param {Uint8Array} salt
 * @param {number} opslimit @param {number} memlimit @returns {Uint8Array}
 */
function derive(s, passphrase, salt, opslimit, memlimit) {
  return s.crypto_pwhash(
    s.crypto_secretbox_KEYBYTES,
    utf8(passphrase),
    salt,
    opslimit,
    memlimit,
    s.crypto_pwhash_ALG_ARGON2ID13,
  );
}
