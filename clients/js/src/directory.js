/**
 * Public keys of devices, trusted only after checking (API.md "Keys"): a kx key counts once its
 * kx_signature verifies under the device's identity key and the handle of the account that lists it.
 * Active listings pin identity keys (persisted); a known device id shown with another key is a
 * substitution: surfaced loudly, and refused until the user acknowledges it. Single-device lookups
 * are checked against the pins but never create one.
 */
import { backupKeySigned } from './backup.js';
import { checkX25519Public, verifyKxSignature } from './crypto.js';
import { b64d, b64e, equalBytes } from './encoding.js';
import { UntrustedDevice } from './errors.js';

const KX_HISTORY = 16;

/**
 * @typedef {object} PeerDevice a device whose kx key verified under `handle`
 * @property {string} deviceId
 * @property {string} accountId
 * @property {string} handle
 * @property {Uint8Array} identityKey
 * @property {Uint8Array} kxKey
 * @property {number | null} createdAt ms
 * @property {number | null} revokedAt ms
 */

/**
 * @typedef {{deviceId: string, accountId: string, kxKey: Uint8Array, trusted: boolean}} BackupKey a
 *   backup recipient; `trusted` once a listed device of its account signed it (senders refuse otherwise)
 */
/** @typedef {{devices: PeerDevice[], backups: BackupKey[]}} Listing */

/** @param {unknown} value @returns {number | null} */
const time = (value) => (typeof value === 'string' ? Date.parse(value) : null);

export class Directory {
  /**
   * @param {import('./api.js').HavenApi} api @param {import('./state.js').DeviceState} device
   * @param {(accountId: string, deviceId: string) => void} onKeySwap a pinned device showed another key
   * @param {{maxAgeMs?: number, now?: () => number}} [options]
   */
  constructor(api, device, onKeySwap, options = {}) {
    this._api = api;
    this._device = device;
    this._onKeySwap = onKeySwap;
    this._maxAge = options.maxAgeMs ?? 60_000;
    this._now = options.now ?? Date.now;
    /** @type {Map<string, {at: number, listing: Listing}>} */
    this._active = new Map();
    /** @type {Map<string, {at: number, detail: any}>} */
    this._details = new Map();
    /** @type {Set<string>} */
    this._verifiedKx = new Set();
  }

  /**
   * An account's active devices (and backup keys), all verified; one bad entry fails the set.
   * @param {string} accountId @param {string} handle @param {{fresh?: boolean}} [o] @returns {Promise<Listing>}
   */
  async activeDevices(accountId, handle, o = {}) {
    const cached = this._active.get(accountId);
    if (!o.fresh && cached && this._now() - cached.at < this._maxAge) return cached.listing;
    const answer = await this._api.accountDevices(accountId);
    if (answer.account_id !== accountId) {
      throw new UntrustedDevice('*', `asked for ${accountId}, got ${answer.account_id}`);
    }
    const entries = /** @type {any[]} */ (answer.devices);
    const devices = entries
      .filter((d) => (d.kind ?? 'device') === 'device')
      .map((d) => this._trust(accountId, handle, d, true));
    const backups = entries
      .filter((d) => d.kind === 'backup')
      .map((d) => this._backup(accountId, handle, d, devices));
    const listing = { devices, backups };
    this._active.set(accountId, { at: this._now(), listing });
    await this._device.save();
    return listing;
  }

  /**
   * Any device by id, revoked or not, if it belongs to one of the accounts in `handles`.
   * @param {string} deviceId @param {Record<string, string>} handles account id → handle
   * @param {{fresh?: boolean}} [o] @returns {Promise<PeerDevice>}
   */
  async device(deviceId, handles, o = {}) {
    let detail = o.fresh ? null : this._cachedDetail(deviceId);
    if (detail === null) {
      detail = await this._api.device(deviceId);
      if (detail.device_id !== deviceId) {
        throw new UntrustedDevice(deviceId, 'the server answered for another device');
      }
      this._details.set(deviceId, { at: this._now(), detail });
    }
    const handle = handles[detail.account_id];
    if (handle === undefined)
      throw new UntrustedDevice(deviceId, 'does not belong to a participant');
    const peer = this._trust(detail.account_id, handle, detail, false);
    return { ...peer, revokedAt: time(detail.revoked_at) };
  }

  /** Forget cached keys (after `devices_changed` or a 409). @param {string} [accountId] */
  invalidate(accountId) {
    if (accountId === undefined) {
      this._active.clear();
      this._details.clear();
      return;
    }
    this._active.delete(accountId);
    for (const [id, { detail }] of this._details) {
      if (detail.account_id === accountId && !detail.revoked_at) this._details.delete(id);
    }
  }

  /** @param {string} accountId @param {string} deviceId @returns {Uint8Array | null} */
  pinned(accountId, deviceId) {
    const pin = this._device.state.listedDevices[accountId]?.[deviceId];
    return pin === undefined ? null : b64d(pin);
  }

  /** After the user acknowledged a change: the next listing pins what it shows. @param {string} accountId */
  releaseDisputed(accountId) {
    const state = this._device.state;
    const pins = state.listedDevices[accountId] ?? {};
    for (const id of state.disputedDevices[accountId] ?? []) delete pins[id];
    delete state.disputedDevices[accountId];
    this.invalidate(accountId);
  }

  /** @param {string} deviceId @returns {Uint8Array[]} verified kx keys of a device, newest first */
  knownKx(deviceId) {
    return [...(this._device.state.seenKx[deviceId] ?? [])].reverse().map(b64d);
  }

  /** @param {string} deviceId */
  _cachedDetail(deviceId) {
    const cached = this._details.get(deviceId);
    if (!cached) return null;
    if (!cached.detail.revoked_at && this._now() - cached.at >= this._maxAge) return null;
    return cached.detail;
  }

  /**
   * @param {string} accountId @param {string} handle @param {any} d @param {boolean} listed
   * @returns {PeerDevice}
   */
  _trust(accountId, handle, d, listed) {
    let identityKey, kxKey, signature;
    try {
      [identityKey, kxKey, signature] = [
        b64d(d.identity_key),
        b64d(d.kx_key),
        b64d(d.kx_signature),
      ];
      checkX25519Public(kxKey);
    } catch (error) {
      throw new UntrustedDevice(String(d.device_id), `malformed keys: ${String(error)}`);
    }
    if (!this._kxSigned(identityKey, handle, kxKey, signature, d)) {
      throw new UntrustedDevice(d.device_id, `kx_signature does not verify for ${handle}`);
    }
    const agrees = listed
      ? this._observeListed(accountId, d.device_id, identityKey)
      : this._check(accountId, d.device_id, identityKey);
    if (agrees) this._observeKx(handle, d, identityKey);
    else if (!listed)
      throw new UntrustedDevice(d.device_id, 'identity key differs from the one listed');
    return {
      deviceId: d.device_id,
      accountId,
      handle,
      identityKey,
      kxKey,
      createdAt: time(d.created_at),
      revokedAt: null,
    };
  }

  /**
   * A backup key counts when a listed device of the account signed it (API.md "Backup key"). An
   * unsigned one is kept as untrusted rather than failing the listing: receiving and safety numbers
   * do not depend on it, and a sender refuses to send (never wrapping for it, never dropping it).
   * @param {string} accountId @param {string} handle @param {any} d @param {PeerDevice[]} devices
   * @returns {BackupKey}
   */
  _backup(accountId, handle, d, devices) {
    let kxKey;
    try {
      kxKey = checkX25519Public(b64d(d.kx_key));
    } catch {
      return {
        deviceId: String(d.device_id),
        accountId,
        kxKey: new Uint8Array(32),
        trusted: false,
      };
    }
    const identities = new Map(devices.map((x) => [x.deviceId, x.identityKey]));
    const trusted = backupKeySigned(handle, kxKey, d.signatures, identities);
    return { deviceId: String(d.device_id), accountId, kxKey, trusted };
  }

  /**
   * `verifyKxSignature`, remembered per exact input: every message of a sender would otherwise
   * verify the same signature again.
   * @param {Uint8Array} identityKey @param {string} handle @param {Uint8Array} kxKey
   * @param {Uint8Array} signature @param {any} d the device as the server sent it
   */
  _kxSigned(identityKey, handle, kxKey, signature, d) {
    const id = [d.identity_key, handle, d.kx_key, d.kx_signature].join('|');
    if (this._verifiedKx.has(id)) return true;
    if (!verifyKxSignature(identityKey, handle, kxKey, signature)) return false;
    this._verifiedKx.add(id);
    return true;
  }

  /** @param {string} accountId @param {string} deviceId @param {Uint8Array} identityKey */
  _observeListed(accountId, deviceId, identityKey) {
    const pins = (this._device.state.listedDevices[accountId] ??= {});
    if (pins[deviceId] === undefined) {
      pins[deviceId] = b64e(identityKey);
      return true;
    }
    return this._check(accountId, deviceId, identityKey);
  }

  /** @param {string} accountId @param {string} deviceId @param {Uint8Array} identityKey */
  _check(accountId, deviceId, identityKey) {
    const pinned = this.pinned(accountId, deviceId);
    if (pinned === null || equalBytes(pinned, identityKey)) return true;
    const disputed = (this._device.state.disputedDevices[accountId] ??= []);
    if (!disputed.includes(deviceId)) {
      disputed.push(deviceId);
      this._onKeySwap(accountId, deviceId);
    }
    return false;
  }

  /** @param {string} handle @param {any} d @param {Uint8Array} identityKey */
  _observeKx(handle, d, identityKey) {
    const history = (this._device.state.seenKx[d.device_id] ??= []);
    const remember = (/** @type {string} */ kx) => {
      if (!history.includes(kx)) history.push(kx);
    };
    for (const old of d.previous_kx_keys ?? []) {
      // Older messages were wrapped with these; each must be signed for this handle too.
      try {
        if (verifyKxSignature(identityKey, handle, b64d(old.kx_key), b64d(old.kx_signature))) {
          remember(old.kx_key);
        }
      } catch {
        // a malformed old key is simply not used
      }
    }
    remember(d.kx_key);
    history.splice(0, Math.max(0, history.length - KX_HISTORY));
  }
}
