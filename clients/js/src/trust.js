/**
 * Safety numbers, the user's verified marks, and the gate that holds sends after a change. The number
 * covers both accounts' whole active device sets, so it changes when either side adds, loses or
 * replaces a device: every change is a `safety_number_changed` event; after the user verified a
 * number, a change also holds sending to that account until acknowledged.
 */
import { b64e } from './encoding.js';
import { HavenError } from './errors.js';
import { normalizeSafetyNumber, safetyNumber } from './safety-number.js';

/** @typedef {'verified' | 'unverified' | 'key_changed' | 'unlisted'} MessageTrust */

export class Trust {
  /**
   * @param {import('./state.js').DeviceState} device @param {import('./directory.js').Directory} directory
   * @param {(name: string, payload: unknown) => Promise<void>} emit
   */
  constructor(device, directory, emit) {
    this._device = device;
    this._directory = directory;
    this._emit = emit;
    /** @type {Map<string, string>} */
    this._memo = new Map();
  }

  get _state() {
    return this._device.state;
  }

  ownAccountId() {
    const account = this._state.account;
    if (!account) throw new HavenError('not_signed_in', 'sign in first');
    return account.account_id;
  }

  /** @param {import('./keystore.js').StoredConversation} conversation */
  counterparts(conversation) {
    const own = this.ownAccountId();
    return conversation.participants.filter((p) => p.account_id !== own);
  }

  /**
   * The 60 digits for this account and `participant`; null while either side has no active device.
   * @param {import('./keystore.js').StoredParticipant} participant @param {{fresh?: boolean}} [o]
   * @returns {Promise<string | null>}
   */
  async safetyNumber(participant, o = {}) {
    const me = this._state.account;
    if (!me) throw new HavenError('not_signed_in', 'sign in first');
    const own = await this._directory.activeDevices(me.account_id, me.handle, o);
    const theirs = await this._directory.activeDevices(
      participant.account_id,
      participant.handle,
      o,
    );
    if (own.devices.length === 0 || theirs.devices.length === 0) return null;
    const ownKeys = own.devices.map((d) => d.identityKey);
    const theirKeys = theirs.devices.map((d) => d.identityKey);
    // 10,400 SHA-512 rounds: computed once per pair of device sets, not once per send.
    const memo = [
      me.account_id,
      ...ownKeys.map(b64e).sort(),
      participant.account_id,
      ...theirKeys.map(b64e).sort(),
    ].join('|');
    let number = this._memo.get(memo);
    if (number === undefined) {
      number = safetyNumber(me.account_id, ownKeys, participant.account_id, theirKeys);
      this._memo.set(memo, number);
    }
    await this._note(participant.account_id, number);
    return number;
  }

  /** Fresh listings of everyone in the conversation: pins new devices, surfaces changes. */
  /** @param {import('./keystore.js').StoredConversation} conversation */
  async recheck(conversation) {
    for (const p of conversation.participants) {
      await this._directory.activeDevices(p.account_id, p.handle, { fresh: true });
    }
    for (const p of this.counterparts(conversation)) await this.safetyNumber(p);
  }

  /** @param {import('./keystore.js').StoredConversation} conversation @returns {MessageTrust} */
  messageTrust(conversation) {
    const accounts = this.counterparts(conversation).map((p) => p.account_id);
    if (accounts.some((a) => a in this._state.pendingKeyChanges)) return 'key_changed';
    if (accounts.length && accounts.every((a) => this.isVerified(a))) return 'verified';
    return 'unverified';
  }

  /** The user verified a counterpart and has not acknowledged a change since. */
  /** @param {import('./keystore.js').StoredConversation} conversation */
  wasVerified(conversation) {
    return this.counterparts(conversation).some((p) => p.account_id in this._state.verified);
  }

  /** Refresh the counterparts' numbers; throws `key_change_unacknowledged` if one is pending. */
  /** @param {import('./keystore.js').StoredConversation} conversation */
  async checkSendable(conversation) {
    for (const p of this.counterparts(conversation)) await this.safetyNumber(p);
    const blocked = this.counterparts(conversation)
      .map((p) => p.account_id)
      .filter((a) => a in this._state.pendingKeyChanges);
    if (blocked.length) {
      throw new HavenError('key_change_unacknowledged', 'a verified contact’s keys changed', {
        accountIds: blocked,
      });
    }
  }

  /** @param {string} accountId */
  isVerified(accountId) {
    const verified = this._state.verified[accountId];
    return verified !== undefined && verified === this._state.lastSafety[accountId];
  }

  /**
   * Compare what the person typed (spaces allowed) with the current number; marks it verified on a match.
   * @param {string} accountId @param {string} typed @returns {Promise<boolean>}
   */
  async verify(accountId, typed) {
    const current = this._state.lastSafety[accountId];
    const digits = normalizeSafetyNumber(typed);
    if (current === undefined || digits !== current) return false;
    await this.setVerified(accountId, true);
    return true;
  }

  /** The "verified" toggle: on marks the current number, off forgets the mark. */
  /** @param {string} accountId @param {boolean} on */
  async setVerified(accountId, on) {
    const current = this._state.lastSafety[accountId];
    if (on) {
      if (current === undefined) throw new HavenError('no_safety_number', 'no safety number yet');
      this._state.verified[accountId] = current;
    } else {
      delete this._state.verified[accountId];
    }
    delete this._state.pendingKeyChanges[accountId];
    this._directory.releaseDisputed(accountId);
    await this._device.save();
  }

  /** The user saw the change: sending resumes; the contact is unverified if the number changed. */
  /** @param {string} accountId */
  async acknowledge(accountId) {
    const state = this._state;
    delete state.pendingKeyChanges[accountId];
    if (state.verified[accountId] !== state.lastSafety[accountId]) delete state.verified[accountId];
    this._directory.releaseDisputed(accountId);
    await this._device.save();
  }

  /** A pinned device showed another identity key: only a misbehaving server could do that. */
  /** @param {string} accountId @param {string} deviceId */
  async keySwapped(accountId, deviceId) {
    this._state.pendingKeyChanges[accountId] = 'identity_key_changed';
    await this._device.save();
    await this._emit('safety_number_changed', {
      accountId,
      reason: 'identity_key_changed',
      deviceId,
      previousSafetyNumber: this._state.lastSafety[accountId] ?? null,
      safetyNumber: null,
      wasVerified: accountId in this._state.verified,
      requiresAcknowledgement: true,
    });
  }

  /** @param {string} accountId @param {string} number */
  async _note(accountId, number) {
    const state = this._state;
    const previous = state.lastSafety[accountId];
    if (previous === number) return;
    state.lastSafety[accountId] = number;
    const verified = state.verified[accountId];
    const blocking = verified !== undefined && verified !== number;
    if (blocking) state.pendingKeyChanges[accountId] = 'safety_number_changed';
    await this._device.save();
    if (previous === undefined) return;
    await this._emit('safety_number_changed', {
      accountId,
      reason: 'safety_number_changed',
      deviceId: null,
      previousSafetyNumber: previous,
      safetyNumber: number,
      wasVerified: verified !== undefined,
      requiresAcknowledgement: blocking,
    });
  }
}
