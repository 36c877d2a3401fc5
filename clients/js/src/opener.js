/**
 * The receiver's side of haven-v1: every check of API.md before a byte of content is shown. An item
 * becomes a `message`, a `deleted` tombstone, or a `failed` item naming the check — never a silent skip.
 * The aad's conversation id is this device's own record's. A sender device counts once an active
 * listing of its account showed it (pinned); an unlisted one gets one fresh look at the listings, then:
 * still active yet unlisted → failed for everyone (the server contradicts itself); revoked before this
 * device ever saw it listed → failed if the user verified the conversation, else shown as `unlisted`.
 */
import { ALG, boxUnwrap } from './crypto.js';
import { envelopeFromWire, openEnvelope, openEnvelopeWithKey } from './envelope.js';
import { b64d, fromUtf8 } from './encoding.js';
import { CryptoError, HavenApiError, UntrustedDevice } from './errors.js';

const CLOCK_SKEW_MS = 5 * 60_000; // API.md's login tolerance; a later revoked_at is a lie

/**
 * @typedef {object} MessageView one history item or live message, as the app shows it
 * @property {'message' | 'failed' | 'deleted'} kind
 * @property {string} conversationId
 * @property {string} messageId
 * @property {number | null} seq
 * @property {string | null} senderAccountId
 * @property {string | null} senderDeviceId
 * @property {string | null} serverTs ISO time from the server
 * @property {boolean} [urgent] from the signed envelope
 * @property {Record<string, unknown>} [payload]
 * @property {string | null} [body] text of a `{"type": "text"}` payload
 * @property {unknown} [sentAt] the sender's own claim
 * @property {boolean} [outgoing] sent by this account
 * @property {import('./trust.js').MessageTrust} [trust]
 * @property {string} [reason] why a `failed` item failed
 * @property {string | null} [field] the field at fault
 * @property {boolean} [predatesDevice] older than this device: expected on a new device, not an attack
 */

/** @typedef {{id: string, secret: Uint8Array, contentKey?: Uint8Array}} Recipient the backup key (or a kept content key) */

class Reject extends Error {
  /** @param {string} reason @param {string | null} field @param {boolean} [predates] */
  constructor(reason, field, predates = false) {
    super(reason);
    this.field = field;
    this.predates = predates;
  }
}

/** @param {any} item @returns {MessageView} */
function base(item) {
  const text = (/** @type {unknown} */ v) => (typeof v === 'string' ? v : null);
  return {
    kind: 'failed',
    conversationId: text(item?.conversation_id) ?? '',
    messageId: text(item?.message_id) ?? '',
    seq: Number.isSafeInteger(item?.seq) ? item.seq : null,
    senderAccountId: text(item?.sender_account_id),
    senderDeviceId: text(item?.sender_device_id),
    serverTs: text(item?.server_ts),
  };
}

/** @param {any} item @param {string} reason @param {string | null} field @returns {MessageView} */
export function failedItem(item, reason, field) {
  return { ...base(item), kind: 'failed', reason, field, predatesDevice: false };
}

export class Opener {
  /**
   * @param {import('./state.js').DeviceState} device @param {import('./directory.js').Directory} directory
   * @param {import('./trust.js').Trust} trust
   * @param {{now?: () => number, historyKeys?: import('./history.js').HistoryKeys}} [options]
   *   historyKeys: backup secrets that open the wraps for the account's backup key (restore, link),
   *   and the content keys of messages opened through it before
   */
  constructor(device, directory, trust, options = {}) {
    this._device = device;
    this._directory = directory;
    this._trust = trust;
    this._now = options.now ?? Date.now;
    this._historyKeys = options.historyKeys ?? null;
  }

  /**
   * @param {any} item a history item or a `message` frame's message
   * @param {import('./keystore.js').StoredConversation} conversation
   * @returns {Promise<MessageView>}
   */
  async open(item, conversation) {
    try {
      return await this._open(item, conversation);
    } catch (error) {
      if (!(error instanceof Reject)) throw error;
      const view = failedItem(item, error.message, error.field);
      view.conversationId = conversation.conversation_id;
      view.predatesDevice = error.predates;
      return view;
    }
  }

  /** @param {any} item @param {import('./keystore.js').StoredConversation} conversation */
  async _open(item, conversation) {
    const conversationId = conversation.conversation_id;
    if (item?.conversation_id !== conversationId)
      throw new Reject('filed under another conversation', 'conversation_id');
    if (!conversation.participants.some((p) => p.account_id === item.sender_account_id)) {
      throw new Reject('sender is not a participant of this conversation', 'sender_account_id');
    }
    if (item.deleted) return { ...base(item), kind: /** @type {const} */ ('deleted') };
    const envelope = parse(item);
    const { sender, trust } = await this._sender(item, conversation);
    const ownDeviceId = this._device.state.deviceId;
    let recipient = null;
    if (!ownDeviceId || !envelope.keys.has(ownDeviceId)) {
      recipient = this._backupRecipient(envelope, conversation.conversation_id);
      if (recipient === null) throw await this._notForUs(item, conversation);
    }
    const payload = await this._decrypt(envelope, conversation, sender, recipient);
    const body = payload.type === 'text' && typeof payload.body === 'string' ? payload.body : null;
    return {
      ...base(item),
      kind: /** @type {const} */ ('message'),
      urgent: envelope.urgent,
      payload,
      body,
      sentAt: payload.sent_at,
      outgoing: this._device.state.account?.account_id === item.sender_account_id,
      trust,
    };
  }

  /** Step 2: a participant's device, active at the time, shown by a listing. */
  /** @param {any} item @param {import('./keystore.js').StoredConversation} conversation */
  async _sender(item, conversation) {
    let sender = await this._lookup(item, conversation, false);
    if (!this._listed(sender) && !this._revoked(sender)) {
      // Maybe a device added since the last listing: the listings must show it now.
      await checked(this._trust.recheck(conversation));
      sender = await this._lookup(item, conversation, true);
    }
    return { sender, trust: this._vouched(sender, conversation) };
  }

  /** @param {any} item @param {import('./keystore.js').StoredConversation} conversation @param {boolean} fresh */
  async _lookup(item, conversation, fresh) {
    const device = await checked(
      this._directory.device(item.sender_device_id, handles(conversation), { fresh }),
    );
    if (device.accountId !== item.sender_account_id) {
      throw new Reject('sender device belongs to another account', 'sender_device_id');
    }
    const sentAt = Date.parse(item.server_ts);
    if (device.revokedAt !== null && !(sentAt < device.revokedAt)) {
      throw new Reject('sent after the sender device was revoked', 'sender_device_id');
    }
    return device;
  }

  /** @param {import('./directory.js').PeerDevice} device @param {import('./keystore.js').StoredConversation} conversation */
  _vouched(device, conversation) {
    if (this._listed(device)) return this._trust.messageTrust(conversation);
    if (!this._revoked(device)) {
      throw new Reject(
        'the server answers for a device it leaves out of the account’s listing',
        'sender_device_id',
      );
    }
    if (this._trust.wasVerified(conversation)) {
      throw new Reject(
        'sent by a device that was never in the verified device listing',
        'sender_device_id',
      );
    }
    return /** @type {const} */ ('unlisted');
  }

  /** @param {import('./directory.js').PeerDevice} device */
  _listed(device) {
    return this._directory.pinned(device.accountId, device.deviceId) !== null;
  }

  /** Revoked by now; a `revoked_at` beyond any clock skew claims a device still active. */
  /** @param {import('./directory.js').PeerDevice} device */
  _revoked(device) {
    return device.revokedAt !== null && device.revokedAt <= this._now() + CLOCK_SKEW_MS;
  }

  /**
   * The account's backup key as the recipient, when the envelope has a wrap for a backup id whose
   * secret this device holds (a restore or a link): opened with every other check unchanged.
   * A content key kept from such an opening counts the same (checked again in full).
   * @param {import('./envelope.js').Envelope} envelope @param {string} conversationId
   * @returns {Recipient | null}
   */
  _backupRecipient(envelope, conversationId) {
    if (this._historyKeys === null) return null;
    const kept = this._historyKeys.contentKey(conversationId, envelope.messageId);
    if (kept !== null) return { id: '', secret: new Uint8Array(0), contentKey: kept };
    for (const id of envelope.keys.keys()) {
      const secret = this._historyKeys.get(id);
      if (secret !== null) return { id, secret };
    }
    return null;
  }

  /** Why this device has no key box: normal for messages older than the device. */
  /** @param {any} item @param {import('./keystore.js').StoredConversation} conversation */
  async _notForUs(item, conversation) {
    const ownId = this._device.state.deviceId;
    if (!ownId) return new Reject('this device is not signed in', 'keys');
    const own = await checked(this._directory.device(ownId, handles(conversation)));
    if (own.createdAt !== null && Date.parse(item.server_ts) < own.createdAt) {
      return new Reject(
        'sent before this device was added; only the devices of that time can read it',
        'keys',
        true,
      );
    }
    return new Reject('this device is not among the recipients', 'keys');
  }

  /**
   * Steps 3-4, trying older kx keys on both sides: a rotation must not orphan messages.
   * @param {import('./envelope.js').Envelope} envelope @param {import('./keystore.js').StoredConversation} conversation
   * @param {import('./directory.js').PeerDevice} sender
   * @param {Recipient | null} [recipient] the backup key, else this device
   */
  async _decrypt(envelope, conversation, sender, recipient = null) {
    let plain;
    try {
      plain = this._tryKeys(envelope, conversation.conversation_id, sender, recipient);
    } catch (first) {
      if (!(first instanceof Reject) || first.field !== 'keys') throw first;
      const fresh = await checked(
        this._directory.device(sender.deviceId, handles(conversation), { fresh: true }),
      );
      plain = this._tryKeys(envelope, conversation.conversation_id, fresh, recipient);
    }
    let payload;
    try {
      payload = JSON.parse(fromUtf8(plain));
    } catch {
      throw new Reject('payload is not UTF-8 JSON', 'payload');
    }
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
      throw new Reject('payload is not a JSON object', 'payload');
    }
    return /** @type {Record<string, unknown>} */ (payload);
  }

  /**
   * @param {import('./envelope.js').Envelope} envelope @param {string} conversationId
   * @param {import('./directory.js').PeerDevice} sender @param {Recipient | null} recipient
   */
  _tryKeys(envelope, conversationId, sender, recipient) {
    const state = this._device.state;
    if (recipient?.contentKey) {
      try {
        return openEnvelopeWithKey(envelope, {
          conversationId,
          contentKey: recipient.contentKey,
          senderIdentityPublic: sender.identityKey,
        });
      } catch (error) {
        if (!(error instanceof CryptoError)) throw error;
        throw new Reject(error.message, error.field === 'keys' ? 'commitment' : error.field);
      }
    }
    const ownKx = recipient
      ? [recipient.secret]
      : [state.kxPrivate, ...[...state.oldKx].reverse().map((k) => k.private)]
          .filter((k) => typeof k === 'string')
          .map((k) => b64d(k));
    const senderKx = [sender.kxKey, ...this._directory.knownKx(sender.deviceId)];
    let failure = new Reject('no kx key of this device opens its key box', 'keys');
    for (const own of ownKx) {
      for (const peer of senderKx) {
        try {
          const plain = openEnvelope(envelope, {
            conversationId,
            ownDeviceId: recipient?.id ?? /** @type {string} */ (state.deviceId),
            ownKxPrivate: own,
            senderIdentityPublic: sender.identityKey,
            senderKxPublic: peer,
          });
          if (recipient && this._historyKeys) {
            // Opened through the backup key: keep the content key (it passed every check above).
            const wrapped = /** @type {Uint8Array} */ (envelope.keys.get(recipient.id));
            const key = boxUnwrap(wrapped, own, peer);
            this._historyKeys.rememberContentKey(conversationId, envelope.messageId, key);
          }
          return plain;
        } catch (error) {
          if (!(error instanceof CryptoError)) throw error;
          if (error.field !== 'keys') throw new Reject(error.message, error.field);
          failure = new Reject(error.message, 'keys');
        }
      }
    }
    throw failure;
  }
}

/** @param {import('./keystore.js').StoredConversation} conversation @returns {Record<string, string>} */
function handles(conversation) {
  return Object.fromEntries(conversation.participants.map((p) => [p.account_id, p.handle]));
}

/**
 * A key lookup that fails for good rejects the message; a transient failure propagates, so the
 * caller retries later instead of condemning a message that may be fine.
 * @template T @param {Promise<T>} lookup @returns {Promise<T>}
 */
async function checked(lookup) {
  try {
    return await lookup;
  } catch (error) {
    if (error instanceof UntrustedDevice)
      throw new Reject(`sender keys are not trusted: ${error.message}`, 'sender_device_id');
    if (error instanceof HavenApiError && error.status !== 429 && error.status < 500) {
      throw new Reject(`sender device lookup failed: ${error.code}`, 'sender_device_id');
    }
    throw error;
  }
}

/** Step 1 and the agreement of the server's fields with the signed ones. @param {any} item */
function parse(item) {
  if (!item.envelope) throw new Reject('message has no envelope', 'envelope');
  if (item.envelope.alg !== ALG)
    throw new Reject(`unsupported alg ${String(item.envelope.alg)}`, 'alg');
  let envelope;
  try {
    envelope = envelopeFromWire(item.envelope);
  } catch (error) {
    if (!(error instanceof CryptoError)) throw error;
    throw new Reject(`malformed envelope: ${error.message}`, error.field);
  }
  if (envelope.messageId !== item.message_id)
    throw new Reject('message_id differs from the signed one', 'message_id');
  if (envelope.senderDeviceId !== item.sender_device_id) {
    throw new Reject('sender_device_id differs from the signed one', 'sender_device_id');
  }
  if (envelope.urgent !== Boolean(item.urgent))
    throw new Reject('urgent differs from the signed flag', 'urgent');
  return envelope;
}
