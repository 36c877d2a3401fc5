/**
 * This device's own record of its conversations (ids, participants, handles), kept in the state.
 * Receivers build the aad from it, never from a server field; participants are kept as first seen.
 */
import { HavenError } from './errors.js';

export class Conversations {
  /** @param {import('./api.js').HavenApi} api @param {import('./state.js').DeviceState} device */
  constructor(api, device) {
    this._api = api;
    this._device = device;
  }

  /** The server's list (as it answers), after updating the own record. @returns {Promise<any[]>} */
  async refresh() {
    const { conversations } = await this._api.conversations();
    const known = this._device.state.conversations;
    for (const c of conversations) {
      const stored = known[c.conversation_id];
      if (stored === undefined) {
        known[c.conversation_id] = {
          conversation_id: c.conversation_id,
          status: c.status,
          retention_days: c.retention_days ?? null,
          participants: c.participants.map((/** @type {any} */ p) => ({
            account_id: p.account_id,
            handle: String(p.handle).toLowerCase(),
            display_name: p.display_name ?? '',
            role: p.role ?? '',
          })),
        };
      } else {
        stored.status = c.status;
        stored.retention_days = c.retention_days ?? null;
      }
    }
    await this._device.save();
    return conversations;
  }

  /** The stored record; an unknown id gets one refresh before giving up. @param {string} id */
  async get(id) {
    if (this._device.state.conversations[id] === undefined) await this.refresh();
    const stored = this._device.state.conversations[id];
    if (stored === undefined) throw new HavenError('unknown_conversation', `no conversation ${id}`);
    return stored;
  }

  known() {
    return Object.values(this._device.state.conversations);
  }

  /** @param {string} id @param {string} status */
  setStatus(id, status) {
    const stored = this._device.state.conversations[id];
    if (stored) stored.status = status;
  }
}
