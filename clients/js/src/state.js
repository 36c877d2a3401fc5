/** The open device state and its writes: saves are serialised so a later one never lands before an earlier one. */
import { normalizeState } from './keystore.js';

export class DeviceState {
  /** @param {import('./keystore.js').KeyStore} keyStore @param {import('./keystore.js').State} state */
  constructor(keyStore, state) {
    this.keyStore = keyStore;
    this.state = state;
    /** @type {Promise<void>} */
    this._chain = Promise.resolve();
    this._wiped = false;
  }

  /** @param {import('./keystore.js').KeyStore} keyStore */
  static async open(keyStore) {
    return new DeviceState(keyStore, normalizeState(await keyStore.load()));
  }

  /** Durable when the promise resolves (a refresh token, a kx key about to be announced). */
  save() {
    const snapshot = structuredClone(this.state);
    this._chain = this._chain
      .catch(() => {})
      .then(() => (this._wiped ? undefined : this.keyStore.save(snapshot)));
    return this._chain;
  }

  /** Forget everything here and in the store; later saves write nothing. */
  async wipe() {
    this._wiped = true;
    await this._chain.catch(() => {});
    this.state = normalizeState(null);
    await this.keyStore.clear();
  }
}
