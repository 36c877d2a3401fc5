/**
 * `HavenClient`: the companion's brain. Signs a device in (or resumes it), keeps the device's memory
 * in a `KeyStore`, opens and verifies every message, sends through the outbox, keeps safety numbers
 * and the user's verified marks, and runs the live connection. Events: see README.md.
 */
import { HavenApi } from './api.js';
import { openAttachment, uploadAttachment } from './attachments.js';
import { forgetSharedKeys } from './crypto.js';
import { ClientBase } from './client-base.js';
import { Conversations } from './conversations.js';
import { Directory } from './directory.js';
import { HavenError } from './errors.js';
import { Emitter } from './events.js';
import { History, HistoryKeys } from './history.js';
import { Opener, failedItem } from './opener.js';
import { Receiver } from './receiver.js';
import { DEFAULT_KX_INTERVAL_MS, rotateKx, rotateKxIfDue } from './rotation.js';
import { groupSafetyNumber } from './safety-number.js';
import { Sender } from './sender.js';
import { signInDevice } from './session.js';
import { HavenSocket } from './socket.js';
import { sodiumReady } from './sodium.js';
import { DeviceState } from './state.js';
import { Trust } from './trust.js';

/** How long a sign-out waits for the frames received before it (a stuck catch-up must not hold it). */
const SIGN_OUT_WAIT_MS = 5000;

/** @param {number} ms @param {Promise<unknown>} promise @returns {Promise<unknown>} */
function within(ms, promise) {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  const late = new Promise((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
/**
 * @typedef {object} ClientOptions
 * @property {import('./keystore.js').KeyStore} keyStore where the device's keys and memory live
 * @property {string} [baseUrl] '' (default) = same origin
 * @property {typeof fetch} [fetch]
 * @property {any} [WebSocket] constructor; default `globalThis.WebSocket`
 * @property {() => number} [now] ms clock
 * @property {{initialMs?: number, maxMs?: number}} [backoff] reconnect back-off
 */

/**
 * @typedef {object} SafetyNumberView
 * @property {string | null} digits 60 digits; null while the counterpart has no signed-in device
 * @property {string[]} groups 12 groups of 5
 * @property {boolean} verified the user marked this very number verified
 * @property {boolean} changePending a verified number changed and the user has not acknowledged it
 * @property {string} accountId the counterpart
 * @property {import('./keystore.js').StoredParticipant} counterpart
 */

export class HavenClient extends ClientBase {
  /**
   * Use `HavenClient.signIn`, `register` or `resume`.
   * @param {ClientOptions} options @param {DeviceState} device @param {HavenApi} api @param {Emitter} events
   */
  constructor(options, device, api, events) {
    const conversations = new Conversations(api, device);
    super(api, device, conversations);
    this._options = options;
    this._events = events;
    this._now = options.now ?? Date.now;
    const emit = (/** @type {string} */ name, /** @type {unknown} */ payload) =>
      events.emit(name, payload);
    this._directory = new Directory(api, device, (a, d) => void this._trust.keySwapped(a, d), {
      now: this._now,
    });
    this._trust = new Trust(device, this._directory, emit);
    this._historyKeys = new HistoryKeys(device);
    this._opener = new Opener(device, this._directory, this._trust, {
      now: this._now,
      historyKeys: this._historyKeys,
    });
    this._history = new History({
      api,
      device,
      keys: this._historyKeys,
      emit,
      history: (id, page) => this.history(id, page),
      conversations: () => this._conversations.refresh(),
      invalidate: (accountId) => this._directory.invalidate(accountId),
    });
    /** @type {HavenSocket | null} */
    this._socket = null;
    this._sender = new Sender({
      api,
      device,
      directory: this._directory,
      trust: this._trust,
      conversations,
      socket: () => this._socket,
      emit,
      now: this._now,
    });
    this._receiver = new Receiver({
      api,
      device,
      conversations,
      opener: this._opener,
      directory: this._directory,
      trust: this._trust,
      emit,
      ack: (id) => this._socket?.send({ type: 'ack', message_id: id }),
      link: (link) => this._history.receive(link),
    });
    events.settled = () => within(SIGN_OUT_WAIT_MS, this._receiver.drained());
    /** @type {import('./socket.js').ConnectionState} */
    this.connectionState = 'closed';
    events.on('devices_changed', async (/** @type {{accountId: string}} */ e) => {
      // The backup key may have been published again under a new id: learn it (best effort).
      if (e.accountId !== device.state.account?.account_id) return;
      try {
        await this._history.refresh();
      } catch {
        // Offline or signed out: the ids are learnt again at the next status or restore.
      }
    });
  }

  /** @param {ClientOptions} options */
  static async _open(options) {
    await sodiumReady();
    const device = await DeviceState.open(options.keyStore);
    const events = new Emitter();
    // One `signed_out` per client: a revoked device may hear it from the socket (4403) and from
    // a refused refresh of an HTTP call in flight at the same moment. And only once the frames
    // received before it are handled: a password reset's `account` frame, written just before
    // the socket closes, says why (a catch-up's refused refresh would otherwise overtake it).
    let signedOut = false;
    const emit = events.emit.bind(events);
    events.emit = (name, payload) => {
      if (name !== 'signed_out') return emit(name, payload);
      if (signedOut) return Promise.resolve();
      signedOut = true;
      return events.settled().then(() => emit(name, payload));
    };
    const api = new HavenApi({
      baseUrl: options.baseUrl ?? '',
      fetch: options.fetch,
      now: options.now,
      onSession: async (tokens) => {
        device.state.refreshToken = tokens.refresh_token;
        await device.save();
      },
      onSignedOut: () => void events.emit('signed_out', { reason: 'session_expired', code: 4401 }),
    });
    return { device, events, api };
  }

  /**
   * Create an account with an invite, then sign this device in. Nothing is stored if registration fails.
   * @param {ClientOptions & {handle: string, password: string, inviteCode: string, displayName?: string, deviceName?: string}} options
   */
  static async register(options) {
    const api = new HavenApi({ baseUrl: options.baseUrl ?? '', fetch: options.fetch });
    /** @type {{handle: string, password: string, invite_code: string, display_name?: string}} */
    const body = {
      handle: options.handle,
      password: options.password,
      invite_code: options.inviteCode,
    };
    if (options.displayName) body.display_name = options.displayName;
    await api.register(body);
    return HavenClient.signIn(options);
  }

  /**
   * Sign in: a keystore that already holds this account's device resumes that device (same id).
   * @param {ClientOptions & {handle: string, password: string, deviceName?: string, replaceDeviceId?: string}} options
   */
  static async signIn(options) {
    const { device, events, api } = await HavenClient._open(options);
    await signInDevice(api, device, { ...options, now: options.now });
    const client = new HavenClient(options, device, api, events);
    await client._afterSignIn();
    return client;
  }

  /**
   * Continue a stored session with its refresh token (a reload with "keep me signed in").
   * @param {ClientOptions} options @returns {Promise<HavenClient | null>} null: nothing stored, or the session ended
   */
  static async resume(options) {
    const { device, events, api } = await HavenClient._open(options);
    const state = device.state;
    if (!state.refreshToken || !state.account || !state.deviceId || !state.identitySeed)
      return null;
    api.transport.adoptRefreshToken(state.refreshToken);
    try {
      await api.refresh();
    } catch (error) {
      if (error instanceof HavenError && error.code === 'session_expired') return null;
      throw error;
    }
    const client = new HavenClient(options, device, api, events);
    await client._afterSignIn();
    return client;
  }

  async _afterSignIn() {
    await this._conversations.refresh();
    await this.crisisResources({ refresh: true });
  }

  // --- events --------------------------------------------------------------------------

  /** @param {string} name @param {(payload: any) => unknown} handler @returns {() => void} unsubscribe */
  on(name, handler) {
    return this._events.on(name, handler);
  }

  /** @param {string} name @param {(payload: any) => unknown} handler */
  off(name, handler) {
    this._events.off(name, handler);
  }

  // --- messages ------------------------------------------------------------------------

  /**
   * One page, decrypted and verified, ascending by `seq`; a message that fails a check is a
   * `failed` item in its place, never skipped.
   * @param {string} conversationId @param {{afterSeq?: number, beforeSeq?: number, limit?: number}} [page]
   * @returns {Promise<{messages: import('./opener.js').MessageView[], hasMore: boolean}>}
   */
  async history(conversationId, page = {}) {
    const conversation = await this._conversations.get(conversationId);
    const answer = await this.api.history(conversationId, page);
    const items = [...answer.messages].sort((a, b) => a.seq - b.seq);
    const seen = (this._device.state.seenIds[conversationId] ??= {});
    const messages = [];
    for (const item of items) {
      const earlier = seen[item.message_id];
      if (earlier !== undefined && earlier !== item.seq) {
        messages.push({
          ...failedItem(
            item,
            'a message id seen before, under another seq: a replay',
            'message_id',
          ),
          conversationId,
        });
        continue;
      }
      messages.push(await this._opener.open(item, conversation));
      seen[item.message_id] = item.seq;
    }
    await this._device.save();
    return { messages, hasMore: Boolean(answer.has_more) };
  }

  /**
   * Seal and send a text (with `attachments`: files from `uploadAttachment`, at most 10). Resolves
   * `{messageId, state: 'sent' | 'queued', retryAt, counterpartOffline, crisisResources}`; rejects
   * with a `HavenError` whose `code` says why and whose `draft` keeps the text.
   * @param {string} conversationId @param {string} text
   * @param {{urgent?: boolean, attachments?: import('./attachments.js').AttachmentRef[]}} [options]
   */
  send(conversationId, text, options = {}) {
    return this._sender.send(conversationId, text, options);
  }

  /**
   * Encrypt a file under a fresh key and upload it; the reference to pass in `send(…, {attachments})`.
   * @param {string} conversationId @param {import('./attachments.js').FileSource} file
   * @param {{name?: string, mime?: string, size?: number, durationMs?: number | null, onProgress?: (p: import('./attachments.js').Progress) => void}} [options]
   */
  uploadAttachment(conversationId, file, options = {}) {
    return uploadAttachment(this.api.transport, conversationId, file, options);
  }

  /**
   * Download, check and decrypt a file a message lists; a `Blob` of `type` (default
   * `application/octet-stream`: never render a sender's claimed type unchecked). Any failed check
   * rejects with an `AttachmentError`: nothing partial is ever returned.
   * @param {string} conversationId @param {import('./attachments.js').AttachmentRef} ref
   * @param {{type?: string, onProgress?: (p: import('./attachments.js').Progress) => void}} [options]
   */
  openAttachment(conversationId, ref, options = {}) {
    return openAttachment(this.api.transport, conversationId, ref, options);
  }

  /** Delete for everyone (own messages). @param {string} conversationId @param {string} messageId */
  deleteMessage(conversationId, messageId) {
    return this.api.deleteMessage(conversationId, messageId);
  }

  /** @param {string} conversationId @param {number} upToSeq */
  markRead(conversationId, upToSeq) {
    return this.api.markRead(conversationId, upToSeq);
  }

  /** Fetch everything new in every conversation as events (also without a socket). */
  sync() {
    return this._receiver.syncAll();
  }

  // --- safety numbers ----------------------------------------------------------------------

  /** @param {string} conversationId @returns {Promise<SafetyNumberView>} */
  async safetyNumber(conversationId) {
    const counterpart = await this._counterpart(conversationId);
    const digits = await this._trust.safetyNumber(counterpart, { fresh: true });
    return {
      digits,
      groups: digits ? groupSafetyNumber(digits) : [],
      verified: this._trust.isVerified(counterpart.account_id),
      changePending: counterpart.account_id in this._device.state.pendingKeyChanges,
      accountId: counterpart.account_id,
      counterpart,
    };
  }

  /**
   * Compare digits read out by the other person (spaces allowed); a match marks it verified.
   * @param {string} conversationId @param {string} typed @returns {Promise<{matches: boolean}>}
   */
  async verifySafetyNumber(conversationId, typed) {
    const counterpart = await this._counterpart(conversationId);
    await this._trust.safetyNumber(counterpart, { fresh: true });
    return { matches: await this._trust.verify(counterpart.account_id, typed) };
  }

  /** The "verified" toggle, kept in the keystore. @param {string} conversationId @param {boolean} verified */
  async setVerified(conversationId, verified) {
    const counterpart = await this._counterpart(conversationId);
    await this._trust.setVerified(counterpart.account_id, verified);
  }

  /** After a `safety_number_changed` needing acknowledgement: sending resumes, the contact is unverified. */
  /** @param {string} conversationId */
  async acknowledgeKeyChange(conversationId) {
    const counterpart = await this._counterpart(conversationId);
    await this._trust.acknowledge(counterpart.account_id);
  }

  /** @param {string} conversationId */
  async _counterpart(conversationId) {
    const conversation = await this._conversations.get(conversationId);
    const counterparts = this._trust.counterparts(conversation);
    if (counterparts.length !== 1)
      throw new HavenError('no_counterpart', 'a safety number needs exactly one counterpart');
    return counterparts[0];
  }

  // --- history on a new device (history.js) -----------------------------------------------------

  /** `{enabled, backupId, createdAt, heldHere}`: the account's backup key and whether this device holds it. */
  backupStatus() {
    return this._history.status();
  }

  /**
   * Turn backup on or replace its key; `{recoveryKey, backupId}` — show `recoveryKey` once, never
   * store it. Pass a key from `newRecoveryKey()` to publish only once the user confirmed it.
   * @param {string} [recoveryKey]
   */
  enableBackup(recoveryKey) {
    return this._history.enable(recoveryKey);
  }

  /** Turn backup off (messages from now on are not wrapped for a backup key). */
  disableBackup() {
    return this._history.disable();
  }

  /**
   * Read the whole history kept on the server with the recovery key (`recovery_key_malformed` /
   * `recovery_key_wrong` / `no_backup` refuse calmly); kept on this device only with `keep`.
   * @param {string} recoveryKey @param {{keep?: boolean}} [o]
   */
  restoreHistory(recoveryKey, o = {}) {
    return this._history.restore(recoveryKey, o);
  }

  /** New device: one `{deviceId, name, code}` per other active device of the account. */
  linkCodes() {
    return this._history.linkCodes();
  }

  /** Approving device: the code to compare for a new device. @param {string} deviceId */
  linkCodeFor(deviceId) {
    return this._history.linkCodeFor(deviceId);
  }

  /** After the user compared the codes: send the new device what it needs to read history. @param {string} deviceId */
  approveDevice(deviceId) {
    return this._history.approve(deviceId);
  }

  /** New device without a socket: fetch `GET /v1/me/links`; `{withHistory}` once one is accepted, else null. */
  checkLinks() {
    return this._history.checkLinks();
  }

  // --- live ------------------------------------------------------------------------------

  /** Open the reconnecting WebSocket; `ready` starts a catch-up of every conversation. */
  connect() {
    if (this._socket) return;
    const WebSocketImpl = this._options.WebSocket ?? globalThis.WebSocket;
    if (!WebSocketImpl)
      throw new HavenError('no_websocket', 'no WebSocket implementation available');
    this._socket = new HavenSocket({
      transport: this.api.transport,
      WebSocket: WebSocketImpl,
      backoff: this._options.backoff,
      onFrame: (frame) => this._receiver.push(frame),
      onState: ({ state, code }) => {
        this.connectionState = state;
        void this._events.emit('connection', { state, code });
      },
      onSignedOut: (reason, code) => void this._signedOut(reason, code),
    });
    this._socket.start();
  }

  /** Close the socket (the client stays usable over HTTP). */
  disconnect() {
    const socket = this._socket;
    this._socket = null;
    socket?.stop();
  }

  /** @param {string} reason @param {number} code */
  async _signedOut(reason, code) {
    this._socket = null;
    this._device.state.refreshToken = null;
    this.api.transport.forget();
    await this._device.save();
    await this._events.emit('signed_out', { reason, code });
  }

  // --- keys and leaving -----------------------------------------------------------------------

  /**
   * Rotate this device's kx key when it is `intervalMs` old (default a week); prunes old private keys
   * no kept message needs (rule in README). @param {number} [now] @param {{intervalMs?: number}} [o]
   * @returns {Promise<boolean>} rotated
   */
  async rotateKxIfDue(now = this._now(), o = {}) {
    await this._conversations.refresh();
    try {
      return await rotateKxIfDue(
        this.api,
        this._device,
        now,
        o.intervalMs ?? DEFAULT_KX_INTERVAL_MS,
      );
    } finally {
      this._directory.invalidate(this.account.account_id);
    }
  }

  /** Rotate now. */
  async rotateKx() {
    try {
      await rotateKx(this.api, this._device, this._now());
    } finally {
      this._directory.invalidate(this.account.account_id);
    }
  }

  /** End this device's session and erase its keys and memory from the keystore. */
  async signOut() {
    this._stop();
    const deviceId = this._device.state.deviceId;
    try {
      // Its keys are erased below, so nothing can ever resume this device: revoke it rather than
      // only end its session (an orphan would stay in every sender's key list, in the safety
      // number, and count towards the ten-device limit).
      if (deviceId) await this.api.revokeDevice(deviceId);
      else await this.api.logout();
    } finally {
      this.api.transport.forget();
      await this._device.wipe();
    }
  }

  /**
   * The page is going away and kept nothing of this device (not "keep me signed in"): revoke it
   * with a request that outlives the page, so no orphan device is left behind.
   */
  releaseOnUnload() {
    this._stop();
    const deviceId = this._device.state.deviceId;
    if (deviceId) this.api.transport.releaseDevice(deviceId);
  }

  /** Panic exit: revoke this device at once, then erase everything local (even if offline). */
  async panic() {
    this._stop();
    const deviceId = this._device.state.deviceId;
    try {
      if (deviceId) await this.api.panic(deviceId);
    } finally {
      this.api.transport.forget();
      await this._device.wipe();
    }
  }

  /** Delete the account; resolves the signed receipt `{receipt, receipt_signature}` to keep. @param {string} password */
  async deleteAccount(password) {
    const receipt = await this.api.deleteAccount(password);
    this._stop();
    this.api.transport.forget();
    await this._device.wipe();
    return receipt;
  }

  _stop() {
    forgetSharedKeys();
    this._historyKeys.forget();
    this.disconnect();
    this._receiver.close();
    this._sender.outbox.clear();
  }
}
