/** `HavenApi`: one method per REST endpoint of API.md, the wire as it is (snake_case bodies), no crypto. */
import { Transport } from './transport.js';

/** @param {string} value an id in a path, escaped: a hostile id must never change the route */
const seg = (value) => encodeURIComponent(value);

export class HavenApi {
  /**
   * @param {import('./transport.js').TransportOptions} [options] `baseUrl` ('' = same origin),
   *   `fetch`, `onSession` (persist new tokens), `onSignedOut`
   */
  constructor(options = {}) {
    this.transport = new Transport(options);
  }

  /** @param {string} method @param {string} path @param {{body?: unknown, query?: Record<string, any>, auth?: boolean}} [o] */
  request(method, path, o) {
    return this.transport.request(method, path, o);
  }

  // --- accounts, sessions, devices -----------------------------------------------------

  /** @param {{handle: string, password: string, invite_code: string, display_name?: string}} body */
  register(body) {
    return this.request('POST', '/v1/accounts', { body, auth: false });
  }

  /** Log in (the tokens are installed). @param {Record<string, unknown>} body handle, password, device, replace_device_id */
  async login(body) {
    const session = await this.request('POST', '/v1/sessions', { body, auth: false });
    await this.transport.install(session);
    return session;
  }

  refresh() {
    return this.transport.refresh(null);
  }

  logout() {
    return this.request('DELETE', '/v1/sessions/current');
  }

  /** @param {{current_password: string, new_password: string, revoke_other_devices: boolean}} body */
  changePassword(body) {
    return this.request('PUT', '/v1/me/password', { body });
  }

  me() {
    return this.request('GET', '/v1/me');
  }

  /** @param {string} deviceId */
  revokeDevice(deviceId) {
    return this.request('DELETE', `/v1/devices/${seg(deviceId)}`);
  }

  /** @param {string} deviceId */
  panic(deviceId) {
    return this.request('POST', `/v1/devices/${seg(deviceId)}/panic`);
  }

  /** @param {string} deviceId @param {{kx_key: string, kx_signature: string}} body */
  rotateKx(deviceId, body) {
    return this.request('PUT', `/v1/devices/${seg(deviceId)}/kx`, { body });
  }

  /** @param {string} accountId */
  accountDevices(accountId) {
    return this.request('GET', `/v1/accounts/${seg(accountId)}/devices`);
  }

  /** @param {string} deviceId */
  device(deviceId) {
    return this.request('GET', `/v1/devices/${seg(deviceId)}`);
  }

  // --- invites and relationships -----------------------------------------------------------

  /** @param {'coach' | 'client'} kind */
  createInvite(kind) {
    return this.request('POST', '/v1/invites', { body: { kind } });
  }

  /** @param {string} code */
  acceptInvite(code) {
    return this.request('POST', '/v1/invites/accept', { body: { code } });
  }

  conversations() {
    return this.request('GET', '/v1/conversations');
  }

  /** @param {string} conversationId @param {{reason: string | null, resume_on: string | null}} body */
  pause(conversationId, body) {
    return this.request('POST', `/v1/conversations/${seg(conversationId)}/pause`, { body });
  }

  /** @param {string} conversationId */
  resume(conversationId) {
    return this.request('POST', `/v1/conversations/${seg(conversationId)}/resume`);
  }

  /** @param {string} conversationId */
  end(conversationId) {
    return this.request('POST', `/v1/conversations/${seg(conversationId)}/end`);
  }

  /** @param {string} conversationId @param {{share_read_receipts?: boolean, notification_detail?: string, retention_days?: number | null}} body */
  setConversationSettings(conversationId, body) {
    return this.request('PUT', `/v1/conversations/${seg(conversationId)}/settings`, { body });
  }

  // --- agreement -------------------------------------------------------------------------

  agreement() {
    return this.request('GET', '/v1/agreement');
  }

  /** @param {string} version */
  acceptAgreement(version) {
    return this.request('POST', '/v1/agreement/accept', { body: { version } });
  }

  withdrawAgreement() {
    return this.request('POST', '/v1/agreement/withdraw');
  }

  /** Operators. @param {string} version @param {string} text */
  publishAgreement(version, text) {
    return this.request('PUT', '/v1/admin/agreement', { body: { version, text } });
  }

  // --- messages ------------------------------------------------------------------------

  /**
   * @param {string} conversationId @param {import('./envelope.js').WireEnvelope} envelope
   * @param {string[]} [attachmentIds] uploads the payload lists (attachments.js)
   */
  postMessage(conversationId, envelope, attachmentIds = []) {
    const path = `/v1/conversations/${seg(conversationId)}/messages`;
    const body = attachmentIds.length ? { envelope, attachment_ids: attachmentIds } : { envelope };
    return this.request('POST', path, { body });
  }

  /**
   * @param {string} conversationId
   * @param {{afterSeq?: number, beforeSeq?: number, limit?: number}} [page] exactly one of afterSeq/beforeSeq
   */
  history(conversationId, page = {}) {
    const query = { after_seq: page.afterSeq, before_seq: page.beforeSeq, limit: page.limit };
    if ((query.after_seq === undefined) === (query.before_seq === undefined)) query.after_seq = 0;
    return this.request('GET', `/v1/conversations/${seg(conversationId)}/messages`, { query });
  }

  /** @param {string} conversationId @param {string} messageId */
  deleteMessage(conversationId, messageId) {
    const path = `/v1/conversations/${seg(conversationId)}/messages/${seg(messageId)}`;
    return this.request('DELETE', path);
  }

  /** @param {string} conversationId @param {number} upToSeq */
  markRead(conversationId, upToSeq) {
    const path = `/v1/conversations/${seg(conversationId)}/read`;
    return this.request('POST', path, { body: { up_to_seq: upToSeq } });
  }

  crisisResources() {
    return this.request('GET', '/v1/crisis-resources', { auth: false });
  }

  /** Operators. @param {Array<{name: string, contact: string, description?: string, region?: string}>} resources */
  setCrisisResources(resources) {
    return this.request('PUT', '/v1/admin/crisis-resources', { body: { resources } });
  }

  // --- notifications and boundaries --------------------------------------------------------

  /** @param {string} deviceId @param {Record<string, unknown>} body a webhook `{url, secret}` or a Web Push subscription with `kind: 'webpush'` */
  setPush(deviceId, body) {
    return this.request('PUT', `/v1/devices/${seg(deviceId)}/push`, { body });
  }

  /** @param {string} deviceId */
  push(deviceId) {
    return this.request('GET', `/v1/devices/${seg(deviceId)}/push`);
  }

  /** @param {string} deviceId */
  removePush(deviceId) {
    return this.request('DELETE', `/v1/devices/${seg(deviceId)}/push`);
  }

  vapidKey() {
    return this.request('GET', '/v1/push/vapid', { auth: false });
  }

  notificationSettings() {
    return this.request('GET', '/v1/me/notification-settings');
  }

  /** @param {{time_zone: string, quiet_hours: {start: string, end: string} | null, urgent_bypass?: boolean}} body */
  setNotificationSettings(body) {
    return this.request('PUT', '/v1/me/notification-settings', { body });
  }

  /** Coaches. @param {Record<string, unknown>} body time_zone, weekly, response_time_hours, away_message, away */
  setAvailability(body) {
    return this.request('PUT', '/v1/me/availability', { body });
  }

  /** @param {string} accountId */
  availability(accountId) {
    return this.request('GET', `/v1/accounts/${seg(accountId)}/availability`);
  }

  // --- your data --------------------------------------------------------------------------

  exportData() {
    return this.request('GET', '/v1/me/export');
  }

  /** @param {string} password */
  deleteAccount(password) {
    return this.request('POST', '/v1/me/delete', { body: { password } });
  }

  publicKeys() {
    return this.request('GET', '/v1/keys', { auth: false });
  }

  // --- history on a new device ----------------------------------------------------------------

  backup() {
    return this.request('GET', '/v1/me/backup');
  }

  /** @param {{kx_key: string, signatures: Record<string, string>}} body */
  setBackup(body) {
    return this.request('PUT', '/v1/me/backup', { body });
  }

  removeBackup() {
    return this.request('DELETE', '/v1/me/backup');
  }

  /** @param {string} deviceId @param {{ciphertext: string, sender_device_id: string}} body */
  link(deviceId, body) {
    return this.request('POST', `/v1/devices/${seg(deviceId)}/link`, { body });
  }

  links() {
    return this.request('GET', '/v1/me/links');
  }

  /** The link's secret is stored (or refused for good): delivered once. @param {string} linkId */
  ackLink(linkId) {
    return this.request('DELETE', `/v1/me/links/${seg(linkId)}`);
  }

  /** @param {{handle: string, code: string, new_password: string}} body */
  resetPassword(body) {
    return this.request('POST', '/v1/password-resets', { body, auth: false });
  }

  // --- operators --------------------------------------------------------------------------

  /** @param {{role?: string, after?: string, limit?: number}} [query] */
  adminAccounts(query = {}) {
    return this.request('GET', '/v1/admin/accounts', { query });
  }

  /** @param {string} accountId */
  adminDeactivate(accountId) {
    return this.request('POST', `/v1/admin/accounts/${seg(accountId)}/deactivate`);
  }

  /** @param {string} accountId */
  adminResetCode(accountId) {
    return this.request('POST', `/v1/admin/accounts/${seg(accountId)}/reset-code`);
  }

  /** @param {Record<string, string | number | undefined>} [query] */
  adminAudit(query = {}) {
    return this.request('GET', '/v1/admin/audit', { query });
  }
}
