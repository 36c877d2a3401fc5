/**
 * The parts of `HavenClient` that are thin over the REST API: relationships, settings, boundaries,
 * the agreement, devices, password, data. `client.js` adds sign-in, messaging, trust and live events.
 */
import { HavenError } from './errors.js';

export class ClientBase {
  /**
   * @param {import('./api.js').HavenApi} api @param {import('./state.js').DeviceState} device
   * @param {import('./conversations.js').Conversations} conversations
   */
  constructor(api, device, conversations) {
    this.api = api;
    this._device = device;
    this._conversations = conversations;
  }

  /** This account: `{account_id, handle, role, display_name}`. */
  get account() {
    const account = this._device.state.account;
    if (!account) throw new HavenError('not_signed_in', 'sign in first');
    return account;
  }

  /** This device's id. @returns {string} */
  get deviceId() {
    const id = this._device.state.deviceId;
    if (!id) throw new HavenError('not_signed_in', 'sign in first');
    return id;
  }

  /**
   * The conversations as the server lists them, each with `counterpart` (the other participant)
   * and `unread` (`last_seq - read_up_to`); the device's own record is updated on the way.
   * @returns {Promise<any[]>}
   */
  async conversations() {
    const listed = await this._conversations.refresh();
    const own = this.account.account_id;
    return listed.map((c) => ({
      ...c,
      counterpart: c.participants.find((/** @type {any} */ p) => p.account_id !== own) ?? null,
      unread: Math.max(0, (c.last_seq ?? 0) - (c.read_up_to ?? 0)),
    }));
  }

  /** Coaches: a client invite (`{code, kind, expires_at}`); operators: `kind = 'coach'`. @param {'client' | 'coach'} [kind] */
  createInvite(kind = 'client') {
    return this.api.createInvite(kind);
  }

  /** An existing client joins another coach. @param {string} code @returns {Promise<string>} the conversation id */
  async acceptInvite(code) {
    const { conversation_id: id } = await this.api.acceptInvite(code);
    await this._conversations.refresh();
    return id;
  }

  /**
   * Coaches: pause sending for both sides; the client sees `reason` as written (see `PAUSE_TEMPLATES`).
   * @param {string} conversationId @param {{reason?: string | null, resumeOn?: string | null}} [o] resumeOn: 'YYYY-MM-DD'
   */
  async pause(conversationId, o = {}) {
    const answer = await this.api.pause(conversationId, {
      reason: o.reason ?? null,
      resume_on: o.resumeOn ?? null,
    });
    await this._conversations.refresh();
    return answer;
  }

  /** @param {string} conversationId */
  async resume(conversationId) {
    const answer = await this.api.resume(conversationId);
    await this._conversations.refresh();
    return answer;
  }

  /** Either participant; the conversation stays readable. @param {string} conversationId */
  async end(conversationId) {
    const answer = await this.api.end(conversationId);
    await this._conversations.refresh();
    return answer;
  }

  /**
   * Own settings in one conversation; only what is given changes.
   * @param {string} conversationId
   * @param {{shareReadReceipts?: boolean, notificationDetail?: 'none' | 'generic' | 'sender', retentionDays?: number | null}} changes
   */
  updateSettings(conversationId, changes) {
    /** @type {Record<string, unknown>} */
    const body = {};
    if (changes.shareReadReceipts !== undefined)
      body.share_read_receipts = changes.shareReadReceipts;
    if (changes.notificationDetail !== undefined)
      body.notification_detail = changes.notificationDetail;
    if (changes.retentionDays !== undefined) body.retention_days = changes.retentionDays;
    return this.api.setConversationSettings(conversationId, body);
  }

  /** The current agreement `{version, text, published_at, accepted}` (404: none published, none needed). */
  agreement() {
    return this.api.agreement();
  }

  /** @param {string} version */
  acceptAgreement(version) {
    return this.api.acceptAgreement(version);
  }

  withdrawAgreement() {
    return this.api.withdrawAgreement();
  }

  /** A coach's availability with `available_now`/`next_available_at`. @param {string} accountId */
  availability(accountId) {
    return this.api.availability(accountId);
  }

  /** Coaches. @param {Record<string, unknown>} availability the body of `PUT /v1/me/availability` */
  setAvailability(availability) {
    return this.api.setAvailability(availability);
  }

  notificationSettings() {
    return this.api.notificationSettings();
  }

  /** @param {{time_zone: string, quiet_hours: {start: string, end: string} | null, urgent_bypass?: boolean}} settings */
  setNotificationSettings(settings) {
    return this.api.setNotificationSettings(settings);
  }

  /** This account's active devices (not its backup key), each with `current: true` for this one. */
  async devices() {
    const me = await this.api.me();
    const own = this._device.state.deviceId;
    return me.devices
      .filter((/** @type {any} */ d) => (d.kind ?? 'device') === 'device')
      .map((/** @type {any} */ d) => ({ ...d, current: d.device_id === own }));
  }

  /** Revoke one of this account's devices (a lost phone). @param {string} deviceId */
  revokeDevice(deviceId) {
    return this.api.revokeDevice(deviceId);
  }

  /** @param {string} currentPassword @param {string} newPassword @param {{revokeOtherDevices?: boolean}} [o] */
  changePassword(currentPassword, newPassword, o = {}) {
    return this.api.changePassword({
      current_password: currentPassword,
      new_password: newPassword,
      revoke_other_devices: o.revokeOtherDevices ?? true,
    });
  }

  /** Everything the server holds about this account (envelopes still ciphertext). */
  exportData() {
    return this.api.exportData();
  }

  /** Register this device's push (a webhook `{url, secret}` or `{kind: 'webpush', endpoint, keys}`). @param {Record<string, unknown>} body */
  setPush(body) {
    return this.api.setPush(this.deviceId, body);
  }

  pushStatus() {
    return this.api.push(this.deviceId);
  }

  removePush() {
    return this.api.removePush(this.deviceId);
  }

  /** The crisis resources, cached for showing with no network at all. @param {{refresh?: boolean}} [o] */
  async crisisResources(o = {}) {
    if (o.refresh) {
      try {
        const { resources } = await this.api.crisisResources();
        this._device.state.crisisResources = resources;
        await this._device.save();
      } catch {
        // offline: the cached copy below is exactly what this is for
      }
    }
    return this._device.state.crisisResources;
  }
}
