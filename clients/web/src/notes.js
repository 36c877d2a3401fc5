/** What the chat must show even when it happened while another screen was open: a new sign-in
 * on your own account, a counterpart's key change, a retention change, a coach's away notice.
 * Kept per conversation as catalogue keys (translated when shown), from sign-in on. */

import { locale } from './i18n/index.js';

/** @typedef {{id: number, key: string, params: Record<string, string | number>, loud: boolean, at: number}} Note */

export class ChatNotes {
  /** @type {Map<string, Note[]>} conversation id → its notes; '' holds account-wide ones */
  #notes = new Map();
  /** @type {Set<() => void>} */
  #listeners = new Set();
  /** @type {Set<string> | null} */
  #ownDevices = null;
  #next = 1;
  /** @type {Map<string, {conversations: string[], name: string}>} counterpart account → … */
  #counterparts = new Map();

  /**
   * @param {any} client a HavenClient
   * @param {string} me own account id
   */
  constructor(client, me) {
    this.client = client;
    this.me = me;
    client
      .devices()
      .then((/** @type {any[]} */ list) => (this.#ownDevices = new Set(list.map((d) => d.device_id))))
      .catch(() => undefined);
    this.#refreshCounterparts();
    client.on('retention', (/** @type {any} */ e) => {
      const days = e.retentionDays;
      this.add(e.conversationId, days == null ? 'notice.retentionKeep' : 'notice.retention', { days: days ?? '' });
    });
    client.on('coach_away', (/** @type {any} */ e) => {
      const when = e.nextAvailableAt ? new Date(e.nextAvailableAt).toLocaleString(locale()) : '';
      const coach = [...this.#counterparts.values()].find((c) => c.conversations.includes(e.conversationId));
      this.add(e.conversationId, 'notice.coachAway', { name: coach?.name ?? '', when });
    });
    client.on('devices_changed', (/** @type {any} */ e) => this.#devicesChanged(e.accountId));
    client.on('safety_number_changed', (/** @type {any} */ e) => this.#keyChanged(e));
    client.on('account', (/** @type {any} */ e) => this.#accountEvent(e));
    client.on('linked', (/** @type {any} */ e) =>
      this.add('', e.withHistory ? 'notice.linkedWithHistory' : 'notice.linkedNoHistory'),
    );
    client.on('device_expiring', (/** @type {any} */ e) => {
      const when = e.expiresAt ? new Date(e.expiresAt).toLocaleString(locale()) : '';
      this.add('', 'notice.deviceExpiring', { when }, true);
    });
  }

  /** A counterpart's password was reset by the operator: a calm line in their conversations. */
  /** @param {{event: string, accountId: string | null}} event */
  async #accountEvent(event) {
    if (event.event !== 'password_reset' || !event.accountId || event.accountId === this.me) return;
    if (!this.#counterparts.has(event.accountId)) await this.#refreshCounterparts();
    const who = this.#counterparts.get(event.accountId);
    if (!who) return;
    for (const id of who.conversations) this.add(id, 'notice.counterpartPasswordReset', { name: who.name });
  }

  async #refreshCounterparts() {
    try {
      const list = await this.client.conversations();
      this.#counterparts.clear();
      for (const c of list) {
        const other = c.counterpart ?? {};
        const known = this.#counterparts.get(other.account_id) ?? {
          conversations: /** @type {string[]} */ ([]),
          name: other.display_name || other.handle || '',
        };
        known.conversations.push(c.conversation_id);
        this.#counterparts.set(other.account_id, known);
      }
    } catch {
      // Offline: notes for unknown counterparts wait for the next refresh.
    }
  }

  /** @param {string} accountId */
  async #devicesChanged(accountId) {
    if (accountId !== this.me) return;
    const list = await this.client.devices().catch(() => null);
    if (!list) return;
    const before = this.#ownDevices;
    this.#ownDevices = new Set(list.map((/** @type {any} */ d) => d.device_id));
    if (!before) return;
    for (const device of list) {
      if (!before.has(device.device_id) && !device.current) {
        this.add('', 'notice.newSignIn', { device: device.name ?? '' }, true);
      }
    }
  }

  /** @param {any} event */
  async #keyChanged(event) {
    if (!this.#counterparts.has(event.accountId)) await this.#refreshCounterparts();
    const who = this.#counterparts.get(event.accountId);
    if (!who) return;
    const key = event.wasVerified ? 'notice.verifiedChanged' : 'notice.keyChanged';
    for (const id of who.conversations) this.add(id, key, { name: who.name }, Boolean(event.wasVerified));
  }

  /**
   * @param {string} conversationId '' for the whole account
   * @param {string} key
   * @param {Record<string, string | number>} [params]
   * @param {boolean} [loud]
   */
  add(conversationId, key, params = {}, loud = false) {
    const list = this.#notes.get(conversationId) ?? [];
    const last = list[list.length - 1];
    if (last && last.key === key && JSON.stringify(last.params) === JSON.stringify(params)) return;
    list.push({ id: this.#next++, key, params, loud, at: Date.now() });
    this.#notes.set(conversationId, list);
    for (const listener of this.#listeners) listener();
  }

  /** @param {string} conversationId @returns {Note[]} this conversation's and the account's notes */
  for(conversationId) {
    return [...(this.#notes.get('') ?? []), ...(this.#notes.get(conversationId) ?? [])].sort((a, b) => a.id - b.id);
  }

  /** @param {() => void} listener @returns {() => void} */
  subscribe(listener) {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
