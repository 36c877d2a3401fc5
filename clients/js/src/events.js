/** A small event hub: `on`/`off`, and an `emit` the SDK can await (a message is acked after its handlers ran). */

export class Emitter {
  constructor() {
    /** @type {Map<string, Set<(payload: any) => unknown>>} */
    this._handlers = new Map();
    /** @type {() => Promise<unknown>} settles once the frames received so far are handled */
    this.settled = () => Promise.resolve();
  }

  /** @param {string} name @param {(payload: any) => unknown} handler @returns {() => void} unsubscribe */
  on(name, handler) {
    let set = this._handlers.get(name);
    if (!set) this._handlers.set(name, (set = new Set()));
    set.add(handler);
    return () => this.off(name, handler);
  }

  /** @param {string} name @param {(payload: any) => unknown} handler */
  off(name, handler) {
    this._handlers.get(name)?.delete(handler);
  }

  /**
   * Run every handler; a failing handler never stops the SDK or the other handlers.
   * @param {string} name @param {unknown} payload @returns {Promise<void>}
   */
  async emit(name, payload) {
    const handlers = [...(this._handlers.get(name) ?? [])];
    await Promise.all(
      handlers.map(async (handler) => {
        try {
          await handler(payload);
        } catch (error) {
          if (name !== 'error') await this.emit('error', { event: name, error });
        }
      }),
    );
  }
}
