/**
 * The reconnecting WebSocket (API.md "WebSocket"): browser-style first-frame auth, re-auth with every
 * new access token, back-off with jitter, our own pings to notice a dead network, and a frame budget
 * so acks after a long absence never trip the gateway's limit. Close codes decide the next step:
 * 4401 refresh and reconnect (signed out if the refresh fails), 4403 signed out, 4409 replaced by a
 * newer socket of this device (stop: two tabs must not fight), anything else reconnect.
 */
import { HavenApiError, HavenError } from './errors.js';

const SEND_TIMEOUT_MS = 15_000;
const HEARTBEAT_MS = 25_000;
const SILENCE_MS = 60_000;
const FRAME_RATE = 40; // per second; the gateway allows 50/s with bursts of 200
const FRAME_BURST = 100;

/** @typedef {'connecting' | 'open' | 'reconnecting' | 'closed'} ConnectionState */

/**
 * @typedef {object} SocketOptions
 * @property {import('./transport.js').Transport} transport
 * @property {any} WebSocket a WebSocket constructor (the browser's, or the `ws` package's in Node)
 * @property {(frame: Record<string, any>) => void} onFrame every frame but answers to sends
 * @property {(event: {state: ConnectionState, code: number | null}) => void} onState
 * @property {(reason: string, code: number) => void} onSignedOut
 * @property {{initialMs?: number, maxMs?: number}} [backoff]
 */

export class HavenSocket {
  /** @param {SocketOptions} options */
  constructor(options) {
    this._o = options;
    /** @type {any} */
    this._ws = null;
    this.ready = false;
    this._stopped = true;
    this._attempt = 0;
    /** @type {Map<string, {resolve: (f: any) => void, reject: (e: unknown) => void, timer: ReturnType<typeof setTimeout>}>} */
    this._pending = new Map();
    /** @type {ReturnType<typeof setTimeout>[]} */
    this._timers = [];
    /** @type {string[]} */
    this._outgoing = [];
    this._tokens = FRAME_BURST;
    this._tokensAt = Date.now();
    this._heldUntil = 0;
    this._lastHeard = Date.now();
    this._unsubscribe = () => {};
    /** @type {string | null} the access token this socket authenticated with */
    this._token = null;
  }

  /** Connect and keep connecting until `stop()` or a final close code. */
  start() {
    if (!this._stopped) return;
    this._stopped = false;
    this._unsubscribe = this._o.transport.onNewToken((token) => {
      if (this._ws && this._ws.readyState === 1)
        this._sendNow({ type: 'auth', access_token: token });
    });
    void this._connect('connecting');
  }

  /** Close for good (sign-out, panic, the app leaving). */
  stop() {
    this._stopped = true;
    this._unsubscribe();
    this._clearTimers();
    const ws = this._ws;
    this._ws = null;
    this.ready = false;
    if (ws) ws.close(1000, 'client closing');
    this._failPending();
    this._o.onState({ state: 'closed', code: 1000 });
  }

  /**
   * A `send` frame, answered by `accepted` (resolved) or `error` (rejected as `HavenApiError`).
   * @param {string} conversationId @param {Record<string, any>} envelope
   * @param {string[]} [attachmentIds] uploads the payload lists
   * @returns {Promise<any>}
   */
  sendEnvelope(conversationId, envelope, attachmentIds = []) {
    if (!this.ready)
      return Promise.reject(new HavenError('socket_closed', 'the socket is not ready'));
    const messageId = envelope.message_id;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._pending.delete(messageId);
        reject(new HavenError('socket_closed', 'no answer to a send in time'));
      }, SEND_TIMEOUT_MS);
      this._pending.set(messageId, { resolve, reject, timer });
      const files = attachmentIds.length ? { attachment_ids: attachmentIds } : {};
      this.send({ type: 'send', conversation_id: conversationId, envelope, ...files });
    });
  }

  /** Best effort, within the frame budget: a lost ack only means a redelivery. @param {Record<string, unknown>} frame */
  send(frame) {
    this._outgoing.push(JSON.stringify(frame));
    this._flush();
  }

  /** @param {ConnectionState} state */
  async _connect(state) {
    if (this._stopped) return;
    this._o.onState({ state, code: null });
    let token;
    try {
      token = await this._o.transport.accessToken();
    } catch (error) {
      if (
        error instanceof HavenError &&
        (error.code === 'session_expired' || error.code === 'not_signed_in')
      ) {
        return this._signedOut(error.code, 4401);
      }
      return this._retry(null);
    }
    if (this._stopped) return;
    this._token = token;
    let ws;
    try {
      ws = new this._o.WebSocket(this._o.transport.wsUrl());
    } catch {
      return this._retry(null);
    }
    this._ws = ws;
    ws.onopen = () => {
      this._lastHeard = Date.now();
      ws.send(JSON.stringify({ type: 'auth', access_token: token }));
      this._heartbeat(ws);
    };
    ws.onmessage = (/** @type {{data: unknown}} */ event) => this._message(ws, event.data);
    ws.onclose = (/** @type {{code: number}} */ event) => void this._closed(ws, event.code);
    ws.onerror = () => {};
  }

  /** @param {any} ws @param {unknown} data */
  _message(ws, data) {
    if (ws !== this._ws) return;
    this._lastHeard = Date.now();
    let frame;
    try {
      frame = JSON.parse(typeof data === 'string' ? data : String(data));
    } catch {
      return;
    }
    if (typeof frame !== 'object' || frame === null || typeof frame.type !== 'string') return;
    if (frame.type === 'ready') {
      this.ready = true;
      this._attempt = 0;
      this._keepTokenFresh(ws);
      this._o.onState({ state: 'open', code: null });
    }
    if (frame.type === 'pong') return;
    if (frame.type === 'accepted' || frame.type === 'error') {
      const waiting =
        typeof frame.message_id === 'string' ? this._pending.get(frame.message_id) : undefined;
      if (waiting) {
        this._pending.delete(frame.message_id);
        clearTimeout(waiting.timer);
        if (frame.type === 'accepted') waiting.resolve(frame);
        else waiting.reject(new HavenApiError(0, frame));
        return;
      }
      if (frame.type === 'error' && frame.code === 'rate_limited') {
        // The socket's own frame budget: hold every frame until the server's time has passed.
        const seconds = typeof frame.retry_after === 'number' ? frame.retry_after : 1;
        this._heldUntil = Date.now() + seconds * 1000;
        return;
      }
    }
    this._o.onFrame(frame);
  }

  /** @param {any} ws @param {number} code */
  async _closed(ws, code) {
    if (ws !== this._ws) return;
    this._ws = null;
    this.ready = false;
    this._clearTimers();
    this._failPending();
    if (this._stopped) return;
    if (code === 4403) return this._signedOut('revoked_or_signed_out', code);
    if (code === 4409) {
      this._stopped = true;
      this._unsubscribe();
      return this._o.onState({ state: 'closed', code });
    }
    if (code === 4401) {
      try {
        await this._o.transport.refresh(this._token);
      } catch (error) {
        if (error instanceof HavenError && error.code === 'session_expired')
          return this._signedOut(error.code, code);
      }
    }
    this._retry(code);
  }

  /** @param {number | null} code */
  _retry(code) {
    if (this._stopped) return;
    this._o.onState({ state: 'reconnecting', code });
    const initial = this._o.backoff?.initialMs ?? 500;
    const ceiling = Math.min(this._o.backoff?.maxMs ?? 30_000, initial * 2 ** this._attempt);
    const floor = code === 4429 ? 5_000 : 0;
    this._attempt += 1;
    const delay = Math.max(floor, ceiling / 2 + Math.random() * (ceiling / 2));
    this._timers.push(setTimeout(() => void this._connect('reconnecting'), delay));
  }

  /** @param {string} reason @param {number} code */
  _signedOut(reason, code) {
    this._stopped = true;
    this._unsubscribe();
    this._o.onState({ state: 'closed', code });
    this._o.onSignedOut(reason, code);
  }

  /** Our own pings notice a silently dead network; the server pings too. @param {any} ws */
  _heartbeat(ws) {
    const tick = () => {
      if (ws !== this._ws) return;
      if (Date.now() - this._lastHeard > SILENCE_MS) {
        ws.close(4000, 'no answer');
        return;
      }
      this.send({ type: 'ping' });
      this._timers.push(setTimeout(tick, HEARTBEAT_MS));
    };
    this._timers.push(setTimeout(tick, HEARTBEAT_MS));
  }

  /** Refresh ahead of expiry while open; the new token reaches the socket as an `auth` frame. @param {any} ws */
  _keepTokenFresh(ws) {
    const transport = this._o.transport;
    const wait = Math.max(1000, transport.msUntilRefresh());
    this._timers.push(
      setTimeout(async () => {
        if (ws !== this._ws) return;
        try {
          await transport.accessToken();
        } catch (error) {
          if (error instanceof HavenError && error.code === 'session_expired') {
            return this._signedOut(error.code, 4401);
          }
        }
        this._keepTokenFresh(ws);
      }, wait),
    );
  }

  _flush() {
    const ws = this._ws;
    if (!ws || ws.readyState !== 1) return;
    const now = Date.now();
    this._tokens = Math.min(
      FRAME_BURST,
      this._tokens + ((now - this._tokensAt) / 1000) * FRAME_RATE,
    );
    this._tokensAt = now;
    while (this._outgoing.length && this._tokens >= 1 && now >= this._heldUntil) {
      ws.send(/** @type {string} */ (this._outgoing.shift()));
      this._tokens -= 1;
    }
    if (this._outgoing.length) {
      const wait = Math.max(this._heldUntil - now, ((1 - this._tokens) / FRAME_RATE) * 1000, 5);
      this._timers.push(setTimeout(() => this._flush(), wait));
    }
  }

  /** @param {Record<string, unknown>} frame */
  _sendNow(frame) {
    this._ws?.send(JSON.stringify(frame));
  }

  _failPending() {
    for (const [, waiting] of this._pending) {
      clearTimeout(waiting.timer);
      waiting.reject(new HavenError('socket_closed', 'the socket closed'));
    }
    this._pending.clear();
    this._outgoing = [];
  }

  _clearTimers() {
    for (const timer of this._timers) clearTimeout(timer);
    this._timers = [];
  }
}
