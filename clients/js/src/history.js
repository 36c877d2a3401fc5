/**
 * History on a new device (docs/history.md): turning the account's backup key on, off or replacing
 * it; restoring with the recovery key; approving a new device (code shown, secret sent) and being
 * approved (the `link` frame or `GET /v1/me/links`, checked before anything is kept). The keys that
 * open backup wraps live in `HistoryKeys`: the stored one (this device turned backup on, was linked,
 * or the user asked to keep it) and, after a restore that keeps nothing, one in memory only.
 */
import { backupBody, backupKeyPair, backupPublicOf } from './backup.js';
import { randomBytes, verifyKxSignature } from './crypto.js';
import { b64d, b64e, equalBytes } from './encoding.js';
import { HavenApiError, HavenError } from './errors.js';
import { linkCode, openLinkSecret, sealLinkSecret } from './link.js';
import { RECOVERY_KEY_BYTES, decodeRecoveryKey, encodeRecoveryKey } from './recovery-key.js';
import { deviceKeys } from './session.js';

/**
 * @typedef {object} BackupStatus
 * @property {boolean} enabled the account has a backup key
 * @property {string | null} backupId
 * @property {string | null} createdAt
 * @property {boolean} heldHere this device keeps the private half of the published key (keystore)
 * @property {boolean} readableHere it is here, kept or in memory after a restore that kept nothing
 */

/**
 * @typedef {object} RestoreSummary
 * @property {number} conversations
 * @property {number} opened messages shown as text
 * @property {number} unreadable messages that stay "could not be verified" (or older than the key)
 */

/** @typedef {{deviceId: string, name: string, code: string}} LinkCodeView */

/**
 * The secrets that open backup wraps, by backup id. A key published again (more signatures, or
 * after its last signer went) gets a new backup id with the same key, so each secret carries every
 * id it is known under (`backup_id` and `earlier_backup_ids` of `GET /v1/me/backup`).
 */
export class HistoryKeys {
  /** @param {import('./state.js').DeviceState} device */
  constructor(device) {
    this._device = device;
    /** @type {{ids: string[], secret: Uint8Array}[]} */
    this._memory = [];
  }

  /** @param {string} backupId @returns {Uint8Array | null} */
  get(backupId) {
    const stored = this._device.state.backup;
    if (stored && (stored.backupId === backupId || stored.earlierIds?.includes(backupId))) {
      return b64d(stored.secret);
    }
    return this._memory.find((k) => k.ids.includes(backupId))?.secret ?? null;
  }

  /** @returns {{backupId: string, secret: Uint8Array} | null} the stored one */
  stored() {
    const stored = this._device.state.backup;
    return stored ? { backupId: stored.backupId, secret: b64d(stored.secret) } : null;
  }

  /**
   * @param {{backup_id: string, earlier_backup_ids?: string[]}} published the key `secret` belongs to
   * @param {Uint8Array} secret @param {boolean} keep in the keystore; else in memory only
   */
  async add(published, secret, keep) {
    const ids = idsOf(published);
    if (keep) {
      this._device.state.backup = {
        backupId: ids[0],
        secret: b64e(secret),
        earlierIds: ids.slice(1),
      };
      await this._device.save();
    } else {
      this._memory.push({ ids, secret });
    }
  }

  /**
   * Every id the published key goes by, for whichever held secret is its private half.
   * @param {{backup_id: string, kx_key: string, earlier_backup_ids?: string[]}} published
   */
  async learn(published) {
    const kxKey = b64d(published.kx_key);
    const ids = idsOf(published);
    for (const k of this._memory) {
      if (equalBytes(backupPublicOf(k.secret), kxKey)) k.ids = [...new Set([...k.ids, ...ids])];
    }
    const stored = this._device.state.backup;
    if (!stored || !equalBytes(backupPublicOf(b64d(stored.secret)), kxKey)) return;
    const known = [stored.backupId, ...(stored.earlierIds ?? [])];
    if (ids.every((id) => known.includes(id))) return;
    stored.earlierIds = [...new Set([...known, ...ids])].filter((id) => id !== ids[0]);
    stored.backupId = ids[0];
    await this._device.save();
  }

  /** @param {string} conversationId @param {string} messageId @returns {Uint8Array | null} */
  contentKey(conversationId, messageId) {
    const key = this._device.state.restoredKeys?.[conversationId]?.[messageId];
    return key ? b64d(key) : null;
  }

  /**
   * A message opened through the backup key: its content key is kept (saved with the caller's next
   * save), so restored history stays readable here once the recovery key is gone.
   * @param {string} conversationId @param {string} messageId @param {Uint8Array} key
   */
  rememberContentKey(conversationId, messageId, key) {
    const state = this._device.state;
    state.restoredKeys ??= {};
    (state.restoredKeys[conversationId] ??= {})[messageId] = b64e(key);
  }

  async forgetStored() {
    this._device.state.backup = null;
    await this._device.save();
  }

  forget() {
    this._memory = [];
  }
}

/** @param {{backup_id: string, earlier_backup_ids?: string[]}} published @returns {string[]} current id first */
function idsOf(published) {
  const earlier = Array.isArray(published.earlier_backup_ids) ? published.earlier_backup_ids : [];
  return [published.backup_id, ...earlier.filter((id) => typeof id === 'string')];
}

/** A fresh recovery key's text (for an app that shows and confirms it before `enableBackup(text)`). */
export function newRecoveryKey() {
  const rk = randomBytes(RECOVERY_KEY_BYTES);
  const text = encodeRecoveryKey(rk);
  rk.fill(0);
  return text;
}

export class History {
  /**
   * @param {object} deps
   * @param {import('./api.js').HavenApi} deps.api
   * @param {import('./state.js').DeviceState} deps.device
   * @param {HistoryKeys} deps.keys
   * @param {(name: string, payload: unknown) => Promise<void>} deps.emit
   * @param {(conversationId: string, page: {afterSeq: number, limit: number}) => Promise<{messages: any[], hasMore: boolean}>} deps.history
   * @param {() => Promise<any[]>} deps.conversations
   * @param {(accountId: string) => void} deps.invalidate forget cached listings of an account
   */
  constructor(deps) {
    this._d = deps;
  }

  get _state() {
    return this._d.device.state;
  }

  _me() {
    const { account, deviceId } = this._state;
    const keys = deviceKeys(this._state);
    if (!account || !deviceId || !keys) throw new HavenError('not_signed_in', 'sign in first');
    return { account, deviceId, keys };
  }

  /** @returns {Promise<any | null>} `GET /v1/me/backup`, or null when there is none */
  async _published() {
    try {
      return await this._d.api.backup();
    } catch (error) {
      if (error instanceof HavenApiError && error.status === 404) return null;
      throw error;
    }
  }

  /** @returns {Promise<BackupStatus>} */
  async status() {
    const published = await this._published();
    if (published !== null) await this._d.keys.learn(published);
    const stored = this._d.keys.stored();
    const heldHere =
      published !== null &&
      stored !== null &&
      equalBytes(backupPublicOf(stored.secret), b64d(published.kx_key));
    return {
      enabled: published !== null,
      backupId: published?.backup_id ?? null,
      createdAt: published?.created_at ?? null,
      heldHere,
      readableHere:
        heldHere || (published !== null && this._d.keys.get(published.backup_id) !== null),
    };
  }

  /**
   * Turn backup on, or replace the key: a recovery key (a new one, or `recoveryKey` from
   * `newRecoveryKey()` that the user already confirmed), its key pair published and signed by this
   * device. The recovery key's text is returned once and never kept; the private half is kept here.
   * @param {string} [recoveryKey] @returns {Promise<{recoveryKey: string, backupId: string}>}
   */
  async enable(recoveryKey) {
    const { account, deviceId, keys } = this._me();
    const rk =
      recoveryKey === undefined ? randomBytes(RECOVERY_KEY_BYTES) : decodeRecoveryKey(recoveryKey);
    const pair = await backupKeyPair(rk);
    const answer = await this._d.api.setBackup(
      backupBody(pair, deviceId, keys.identitySecret, account.handle),
    );
    const published = answer?.backup_id ? answer : await this._published();
    if (!published?.backup_id)
      throw new HavenError('backup_missing', 'the backup key was not kept');
    await this._d.keys.add(published, pair.secret, true);
    this._d.invalidate(account.account_id);
    const text = encodeRecoveryKey(rk);
    rk.fill(0);
    return { recoveryKey: text, backupId: published.backup_id };
  }

  /** Turn backup off: messages from now on are not wrapped for a backup key; the kept secret goes. */
  async disable() {
    const { account } = this._me();
    try {
      await this._d.api.removeBackup();
    } catch (error) {
      if (!(error instanceof HavenApiError && error.status === 404)) throw error;
    }
    await this._d.keys.forgetStored();
    this._d.keys.forget();
    this._d.invalidate(account.account_id);
  }

  /**
   * Check a typed recovery key against the published backup key, then open every message of every
   * conversation with it (each through every check a live receiver runs). A malformed key is refused
   * with `recovery_key_malformed`, one that is not this account's with `recovery_key_wrong`; neither
   * touches anything. Nothing is stored unless `keep`.
   * @param {string} text @param {{keep?: boolean}} [o] @returns {Promise<RestoreSummary>}
   */
  async restore(text, o = {}) {
    this._me();
    const rk = decodeRecoveryKey(text);
    const pair = await backupKeyPair(rk);
    rk.fill(0);
    const published = await this._published();
    if (published === null) {
      throw new HavenError('no_backup', 'this account has no backup key to restore from');
    }
    if (!equalBytes(pair.publicKey, b64d(published.kx_key))) {
      throw new HavenError('recovery_key_wrong', 'that recovery key is not this account’s');
    }
    await this._d.keys.add(published, pair.secret, Boolean(o.keep));
    return this.openAll();
  }

  /** Open every message of every conversation (what a restore or a link shows). @returns {Promise<RestoreSummary>} */
  async openAll() {
    const summary = { conversations: 0, opened: 0, unreadable: 0 };
    for (const conversation of await this._d.conversations()) {
      summary.conversations += 1;
      let after = 0;
      for (;;) {
        const page = await this._d.history(conversation.conversation_id, {
          afterSeq: after,
          limit: 200,
        });
        for (const m of page.messages) {
          if (m.kind === 'message') summary.opened += 1;
          else if (m.kind === 'failed') summary.unreadable += 1;
          after = Math.max(after, m.seq ?? after);
        }
        if (!page.hasMore || page.messages.length === 0) break;
      }
    }
    return summary;
  }

  // --- linking ---------------------------------------------------------------------------------

  /** @returns {Promise<any[]>} this account's active devices from `GET /v1/me`, kx keys checked */
  async _ownDevices() {
    const { account } = this._me();
    const me = await this._d.api.me();
    if (me.account_id !== account.account_id) {
      throw new HavenError('untrusted_device', 'the server answered for another account');
    }
    return /** @type {any[]} */ (me.devices ?? []).filter((d) => (d.kind ?? 'device') === 'device');
  }

  /**
   * The code for this device and another one of the account (both show it before approving).
   * @param {any} other a device as `GET /v1/me` lists it @returns {string}
   */
  _codeWith(other) {
    const { account, keys } = this._me();
    return linkCode(account.account_id, keys.identityPublic, b64d(other.identity_key));
  }

  /**
   * The new device's side: one code per other active device of the account, with its name.
   * @returns {Promise<LinkCodeView[]>}
   */
  async linkCodes() {
    const { deviceId } = this._me();
    const others = (await this._ownDevices()).filter((d) => d.device_id !== deviceId);
    return others.map((d) => ({
      deviceId: d.device_id,
      name: String(d.name ?? ''),
      code: this._codeWith(d),
    }));
  }

  /**
   * The approving device's side: the code for a new device of this account.
   * @param {string} newDeviceId @returns {Promise<LinkCodeView>}
   */
  async linkCodeFor(newDeviceId) {
    const target = await this._ownDevice(newDeviceId);
    return {
      deviceId: target.device_id,
      name: String(target.name ?? ''),
      code: this._codeWith(target),
    };
  }

  /** @param {string} deviceId @returns {Promise<any>} an active device of this account, kx checked */
  async _ownDevice(deviceId) {
    const { account } = this._me();
    const target = (await this._ownDevices()).find((d) => d.device_id === deviceId);
    if (!target) {
      throw new HavenError('not_own_device', 'that device is not an active device of this account');
    }
    let kxKey;
    try {
      kxKey = b64d(target.kx_key);
      if (
        !verifyKxSignature(
          b64d(target.identity_key),
          account.handle,
          kxKey,
          b64d(target.kx_signature),
        )
      )
        throw new Error('kx');
    } catch {
      throw new HavenError('untrusted_device', 'that device’s keys do not verify for this account');
    }
    return { ...target, kxPublic: kxKey };
  }

  /**
   * Approve a new device after the user compared the code: send it the backup key's private half
   * (boxed to its kx key), or — without a backup — nothing to read history with. Refused when the
   * account has a backup this device does not hold (`backup_not_held`: use the recovery key there).
   * @param {string} newDeviceId @returns {Promise<{withHistory: boolean}>}
   */
  async approve(newDeviceId) {
    const { deviceId, keys } = this._me();
    if (newDeviceId === deviceId) throw new HavenError('not_own_device', 'this is this device');
    const target = await this._ownDevice(newDeviceId);
    const published = await this._published();
    const stored = this._d.keys.stored();
    /** @type {import('./link.js').LinkSecret} */
    let secret = { backupId: null, backupSecret: null };
    if (published !== null) {
      if (!stored || !equalBytes(backupPublicOf(stored.secret), b64d(published.kx_key))) {
        throw new HavenError(
          'backup_not_held',
          'this device does not hold the backup key; use the recovery key on the new device',
        );
      }
      secret = { backupId: published.backup_id, backupSecret: stored.secret };
    }
    await this._d.api.link(newDeviceId, {
      ciphertext: sealLinkSecret(secret, keys.kxPrivate, target.kxPublic),
      sender_device_id: deviceId,
    });
    return { withHistory: secret.backupId !== null };
  }

  /**
   * The new device's side: a received transfer (a `link` frame's or one of `GET /v1/me/links`),
   * accepted only from an active device of this account whose box opens and whose secret is the
   * published backup key's. Emits `linked` or `link_refused`.
   * @param {any} link `{ciphertext, sender_device_id}`
   * @returns {Promise<{withHistory: boolean} | null>} null: refused, nothing kept
   */
  async receive(link) {
    const senderId = typeof link?.sender_device_id === 'string' ? link.sender_device_id : '';
    let accepted;
    try {
      accepted = await this._accept(link, senderId);
    } catch (error) {
      if (!(error instanceof HavenError) || error instanceof HavenApiError) throw error;
      await this._ack(link); // refused for good: it must not come back
      await this._d.emit('link_refused', { senderDeviceId: senderId, reason: error.code });
      return null;
    }
    await this._ack(link); // stored: delivered once
    await this._d.emit('linked', { senderDeviceId: senderId, ...accepted });
    return accepted;
  }

  /** `DELETE /v1/me/links/{link_id}`; one already gone is fine. @param {any} link */
  async _ack(link) {
    if (typeof link?.link_id !== 'string') return;
    try {
      await this._d.api.ackLink(link.link_id);
    } catch (error) {
      if (!(error instanceof HavenApiError && error.status === 404)) throw error;
    }
  }

  /** Learn every id the published backup key goes by (after `devices_changed` of this account). */
  async refresh() {
    const published = await this._published();
    if (published !== null) await this._d.keys.learn(published);
  }

  /** @param {any} link @param {string} senderId */
  async _accept(link, senderId) {
    const { deviceId } = this._me();
    if (!senderId || senderId === deviceId || typeof link?.ciphertext !== 'string') {
      throw new HavenError('link_malformed', 'the link does not carry a known format');
    }
    const sender = await this._ownDevice(senderId);
    let opened = null;
    for (const own of this._ownKx()) {
      try {
        opened = openLinkSecret(link.ciphertext, own, sender.kxPublic);
        break;
      } catch (error) {
        if (!(error instanceof HavenError) || error.code !== 'link_unopenable') throw error;
      }
    }
    if (opened === null) {
      throw new HavenError(
        'link_unopenable',
        'the link was not sealed for this device by that one',
      );
    }
    if (opened.backupId === null || opened.backupSecret === null) return { withHistory: false };
    const published = await this._published();
    if (
      published === null ||
      !equalBytes(backupPublicOf(opened.backupSecret), b64d(published.kx_key)) ||
      !idsOf(published).includes(opened.backupId)
    ) {
      throw new HavenError('link_backup_mismatch', 'the secret is not the published backup key’s');
    }
    await this._d.keys.add(published, opened.backupSecret, true);
    return { withHistory: true };
  }

  /** This device's kx private keys, newest first (a rotation may race a link). */
  _ownKx() {
    const state = this._state;
    return [state.kxPrivate, ...[...state.oldKx].reverse().map((k) => k.private)]
      .filter((k) => typeof k === 'string')
      .map((k) => b64d(/** @type {string} */ (k)));
  }

  /**
   * Poll `GET /v1/me/links` (when no socket delivered a `link` frame): the first valid one is kept.
   * @returns {Promise<{withHistory: boolean} | null>}
   */
  async checkLinks() {
    const answer = await this._d.api.links();
    const links = Array.isArray(answer) ? answer : (answer?.links ?? []);
    for (const link of links) {
      const accepted = await this.receive(link);
      if (accepted) return accepted;
    }
    return null;
  }
}
