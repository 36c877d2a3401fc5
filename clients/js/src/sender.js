/**
 * Sealing and sending. One `message_id` per message across every retry (the gateway stores a repeated
 * identical envelope once). A `device_mismatch` refreshes the device lists and re-seals once. Limits
 * never look like rejection: a 429, a 503 or a lost network puts the message in the `Outbox`, which
 * sends it after `Retry-After`; a refusal (paused, ended, consent…) rejects with the text kept as `draft`.
 */
import { seal, envelopeToWire } from './envelope.js';
import { b64d, utf8 } from './encoding.js';
import { HavenApiError, HavenError } from './errors.js';
import { randomBytes } from './crypto.js';
import { deviceKeys } from './session.js';
import { Outbox, isTransient } from './outbox.js';
import { MAX_ATTACHMENTS, attachmentToPayload } from './attachments.js';

/**
 * @typedef {object} SendResult
 * @property {string} messageId
 * @property {string} conversationId
 * @property {'sent' | 'queued'} state queued: in the outbox, sent by itself later (`send_state` events)
 * @property {number | null} retryAt ms epoch when queued
 * @property {boolean} counterpartOffline the counterpart has no signed-in device right now
 * @property {Array<Record<string, string>>} crisisResources with urgent sends
 */

/**
 * @typedef {object} PendingSend
 * @property {string} conversationId
 * @property {string} messageId
 * @property {string} text
 * @property {boolean} urgent
 * @property {import('./attachments.js').AttachmentRef[]} attachments files the payload lists
 * @property {Uint8Array} plain
 * @property {import('./envelope.js').WireEnvelope} wire
 * @property {boolean} counterpartOffline
 * @property {boolean} resealed
 */

/** @returns {string} a canonical lowercase UUIDv4 from the CSPRNG */
export function newMessageId() {
  const b = randomBytes(16);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export class Sender {
  /**
   * @param {object} deps
   * @param {import('./api.js').HavenApi} deps.api
   * @param {import('./state.js').DeviceState} deps.device
   * @param {import('./directory.js').Directory} deps.directory
   * @param {import('./trust.js').Trust} deps.trust
   * @param {import('./conversations.js').Conversations} deps.conversations
   * @param {() => import('./socket.js').HavenSocket | null} deps.socket the open socket, if any
   * @param {(name: string, payload: unknown) => Promise<void>} deps.emit
   * @param {() => number} [deps.now]
   */
  constructor(deps) {
    this._d = deps;
    this._now = deps.now ?? Date.now;
    this.outbox = new Outbox({
      attempt: (item) => this._attempt(item),
      emit: deps.emit,
      now: this._now,
      done: (item, answer) => this._accepted(item, answer),
    });
    this.outbox.onFail((item, error) => this._refused(item, error));
    /** @type {Promise<unknown>} the previous send, which the next one waits for */
    this._turn = Promise.resolve();
  }

  /**
   * @param {string} conversationId @param {string} text
   * @param {{urgent?: boolean, attachments?: import('./attachments.js').AttachmentRef[]}} [options]
   *   `attachments`: uploaded files (`uploadAttachment`) listed in the payload and the send body
   * @returns {Promise<SendResult>}
   */
  send(conversationId, text, options = {}) {
    // One at a time, in the order asked: sealing is asynchronous (device lists, libsodium), so
    // two sends started together could otherwise reach the server, and be stored, swapped.
    const run = this._turn.then(() => this._send(conversationId, text, options));
    this._turn = run.catch(() => undefined);
    return run;
  }

  /**
   * @param {string} conversationId @param {string} text
   * @param {{urgent?: boolean, attachments?: import('./attachments.js').AttachmentRef[]}} options
   * @returns {Promise<SendResult>}
   */
  async _send(conversationId, text, options) {
    const urgent = Boolean(options.urgent);
    const messageId = newMessageId();
    const attachments = options.attachments ?? [];
    if (attachments.length > MAX_ATTACHMENTS)
      throw new HavenError('too_many_attachments', `at most ${MAX_ATTACHMENTS} files per message`);
    /** @type {Record<string, unknown>} */
    const payload = { type: 'text', body: text, sent_at: Math.floor(this._now() / 1000) };
    if (attachments.length) payload.attachments = attachments.map(attachmentToPayload);
    /** @type {PendingSend} */
    const item = {
      conversationId,
      messageId,
      text,
      urgent,
      attachments,
      plain: utf8(JSON.stringify(payload)),
      wire: /** @type {any} */ (null),
      counterpartOffline: false,
      resealed: false,
    };
    try {
      const conversation = await this._d.conversations.get(conversationId);
      await this._d.trust.checkSendable(conversation);
      await this._seal(item);
    } catch (error) {
      if (!isTransient(error)) throw await this._refused(item, error);
      return this.outbox.enqueue(item, error);
    }
    await this._state(item, 'sending');
    if (this.outbox.busy()) return this.outbox.enqueue(item, null);
    try {
      const answer = await this._attempt(item);
      return await this._accepted(item, answer);
    } catch (error) {
      if (isTransient(error)) return this.outbox.enqueue(item, error);
      throw await this._refused(item, error);
    }
  }

  /** @param {PendingSend} item @param {any} answer @returns {Promise<SendResult>} */
  async _accepted(item, answer) {
    const crisisResources = Array.isArray(answer?.crisis_resources) ? answer.crisis_resources : [];
    if (crisisResources.length) {
      this._d.device.state.crisisResources = crisisResources;
      await this._d.device.save();
    }
    await this._state(item, 'sent', { crisisResources });
    return {
      messageId: item.messageId,
      conversationId: item.conversationId,
      state: 'sent',
      retryAt: null,
      counterpartOffline: item.counterpartOffline,
      crisisResources,
    };
  }

  /** @param {PendingSend} item @param {unknown} error @returns {Promise<HavenError>} */
  async _refused(item, error) {
    const refusal =
      error instanceof HavenError ? error : new HavenError('send_failed', String(error));
    refusal.draft = item.text;
    await this._state(item, 'failed', {
      code: refusal.code,
      detail: refusal instanceof HavenApiError ? refusal.detail : refusal.message,
      crisisResources: refusal.crisisResources,
    });
    return refusal;
  }

  /** @param {PendingSend} item @param {string} state @param {Record<string, unknown>} [extra] */
  _state(item, state, extra = {}) {
    return this._d.emit('send_state', {
      messageId: item.messageId,
      conversationId: item.conversationId,
      text: item.text,
      urgent: item.urgent,
      attachments: item.attachments,
      state,
      code: null,
      detail: null,
      crisisResources: [],
      ...extra,
    });
  }

  /** One post of the item's envelope; a `device_mismatch` re-seals once. @param {PendingSend} item */
  async _attempt(item) {
    try {
      return await this._post(item);
    } catch (error) {
      if (!(error instanceof HavenApiError) || error.code !== 'device_mismatch' || item.resealed) {
        throw error;
      }
      item.resealed = true;
      const conversation = await this._d.conversations.get(item.conversationId);
      for (const p of conversation.participants) this._d.directory.invalidate(p.account_id);
      await this._d.trust.checkSendable(conversation);
      await this._seal(item);
      return this._post(item);
    }
  }

  /** Over the socket when it is ready (answered by `accepted`/`error`), else over HTTP. @param {PendingSend} item */
  async _post(item) {
    const attachmentIds = item.attachments.map((ref) => ref.attachmentId);
    const socket = this._d.socket();
    if (socket?.ready) {
      try {
        return await socket.sendEnvelope(item.conversationId, item.wire, attachmentIds);
      } catch (error) {
        if (error instanceof HavenApiError) throw error;
        // The socket went away mid-send: the same envelope over HTTP is stored once.
      }
    }
    return this._d.api.postMessage(item.conversationId, item.wire, attachmentIds);
  }

  /** Seal for every active device of every participant (and backup keys). @param {PendingSend} item */
  async _seal(item) {
    const { device, directory, conversations, trust } = this._d;
    const state = device.state;
    const keys = deviceKeys(state);
    if (!keys || !state.deviceId) throw new HavenError('not_signed_in', 'sign in first');
    const conversation = await conversations.get(item.conversationId);
    const own = trust.ownAccountId();
    /** @type {Map<string, Uint8Array>} */
    const recipients = new Map();
    let counterpartDevices = 0;
    for (const p of conversation.participants) {
      const listing = await directory.activeDevices(p.account_id, p.handle);
      for (const d of listing.devices) recipients.set(d.deviceId, d.kxKey);
      for (const b of listing.backups) {
        if (!b.trusted || listing.backups.length > 1) {
          // Possibly an attack (a key the account's devices never signed): never wrap for it, never
          // leave it out silently — the gateway would refuse the send without it anyway.
          throw new HavenError(
            'backup_untrusted',
            `the backup key listed for ${p.handle} is not signed by any of that account's devices (or is not the only one)`,
            { accountId: p.account_id, backupId: b.deviceId },
          );
        }
        recipients.set(b.deviceId, b.kxKey);
      }
      if (p.account_id !== own) counterpartDevices += listing.devices.length;
    }
    item.counterpartOffline = counterpartDevices === 0;
    const envelope = seal({
      payload: item.plain,
      conversationId: item.conversationId,
      messageId: item.messageId,
      senderDeviceId: state.deviceId,
      identitySecret: keys.identitySecret,
      kxPrivate: this._ownKx(state, recipients.get(state.deviceId)),
      recipients,
      urgent: item.urgent,
    });
    item.wire = envelopeToWire(envelope);
  }

  /**
   * The private half of whatever kx key the server lists for us (even mid-rotation).
   * @param {import('./keystore.js').State} state @param {Uint8Array | undefined} listed
   */
  _ownKx(state, listed) {
    if (!listed)
      throw new HavenError(
        'device_not_listed',
        'this device is not among its account’s active devices',
      );
    const candidates = [state.kxPrivate, ...state.oldKx.map((k) => k.private)];
    for (const candidate of candidates) {
      if (!candidate) continue;
      const secret = b64d(candidate);
      const keys = deviceKeys({ ...state, kxPrivate: candidate });
      if (keys && keys.kxPublic.every((byte, i) => byte === listed[i])) return secret;
    }
    throw new HavenError(
      'device_not_listed',
      'the server lists a kx key this device does not hold',
    );
  }
}
