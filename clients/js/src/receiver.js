/**
 * Turns WebSocket frames and `after_seq` catch-up into events, one job at a time, so sync pages and
 * pushed messages of a conversation never interleave. Messages are emitted in `seq` order per
 * conversation, deduped by `message_id` (a known id under another `seq` is a replay: shown as a
 * failure), and acked only after the app's handlers ran and the state saved (API.md: ack once stored).
 */
import { HavenApiError, HavenError } from './errors.js';
import { failedItem } from './opener.js';

const PAGE = 200;
const RETRY_MS = 2_000;

export class Receiver {
  /**
   * @param {object} deps
   * @param {import('./api.js').HavenApi} deps.api
   * @param {import('./state.js').DeviceState} deps.device
   * @param {import('./conversations.js').Conversations} deps.conversations
   * @param {import('./opener.js').Opener} deps.opener
   * @param {import('./directory.js').Directory} deps.directory
   * @param {import('./trust.js').Trust} deps.trust
   * @param {(name: string, payload: unknown) => Promise<void>} deps.emit
   * @param {(messageId: string) => void} deps.ack
   * @param {(link: any) => Promise<unknown>} [deps.link] a `link` frame's transfer (history.js)
   */
  constructor(deps) {
    this._d = deps;
    /** @type {Promise<void>} */
    this._chain = Promise.resolve();
    /** @type {ReturnType<typeof setTimeout> | null} */
    this._retry = null;
    this._closed = false;
  }

  /** @param {Record<string, any>} frame */
  push(frame) {
    this._enqueue(() => this._handle(frame), frame);
  }

  /** Catch up every conversation (after `ready`, on `resync`, or on demand). */
  syncAll() {
    return this._enqueue(() => this._syncAll(), { type: 'resync' });
  }

  /** Settles once every frame pushed so far has been handled. */
  drained() {
    return this._chain.catch(() => undefined);
  }

  close() {
    this._closed = true;
    if (this._retry !== null) clearTimeout(this._retry);
  }

  /** @param {() => Promise<void>} job @param {Record<string, any>} frame */
  _enqueue(job, frame) {
    this._chain = this._chain.then(async () => {
      if (this._closed) return;
      try {
        await job();
      } catch (error) {
        if (transient(error)) this._later();
        else await this._d.emit('error', { event: String(frame.type), error });
      }
    });
    return this._chain;
  }

  /** A transient failure leaves messages un-acked; a later catch-up fetches them. */
  _later() {
    if (this._retry !== null || this._closed) return;
    this._retry = setTimeout(() => {
      this._retry = null;
      void this.syncAll();
    }, RETRY_MS);
  }

  /** @param {Record<string, any>} frame */
  async _handle(frame) {
    const emit = this._d.emit;
    switch (frame.type) {
      case 'ready':
      case 'resync':
        return this._syncAll();
      case 'message':
        return this._pushed(frame.message);
      case 'devices_changed':
        return this._devicesChanged(String(frame.account_id));
      case 'relationship':
        this._d.conversations.setStatus(String(frame.conversation_id), String(frame.status));
        await this._d.device.save();
        await emit('relationship', {
          conversationId: frame.conversation_id,
          status: frame.status,
          reason: frame.reason ?? null,
          resumeOn: frame.resume_on ?? null,
        });
        if (frame.status === 'active') await this._sync(String(frame.conversation_id));
        return;
      case 'message_deleted':
        return emit('message_deleted', {
          conversationId: frame.conversation_id,
          messageId: frame.message_id,
          seq: frame.seq ?? null,
        });
      case 'read':
        return emit('read', {
          conversationId: frame.conversation_id,
          accountId: frame.account_id,
          upToSeq: frame.up_to_seq,
        });
      case 'retention':
        return emit('retention', {
          conversationId: frame.conversation_id,
          retentionDays: frame.retention_days ?? null,
        });
      case 'coach_away':
        return emit('coach_away', {
          conversationId: frame.conversation_id,
          awayMessage: frame.away_message ?? null,
          responseTimeHours: frame.response_time_hours ?? null,
          nextAvailableAt: frame.next_available_at ?? null,
          crisisResources: frame.crisis_resources ?? this._d.device.state.crisisResources,
        });
      case 'link':
        if (this._d.link) await this._d.link(frame.link ?? frame);
        return;
      case 'account':
        return emit('account', {
          event: String(frame.event ?? ''),
          accountId: frame.account_id ?? null,
        });
      case 'device_expiring':
        return emit('device_expiring', {
          deviceId: frame.device_id ?? null,
          expiresAt: frame.expires_at ?? null,
        });
      case 'message_rejected':
        return emit('message_rejected', {
          conversationId: frame.conversation_id,
          messageId: frame.message_id,
          code: frame.code,
          detail: frame.detail,
        });
      default:
        return emit(String(frame.type), frame);
    }
  }

  async _syncAll() {
    const listed = await this._d.conversations.refresh();
    const lastSeq = this._d.device.state.lastSeq;
    for (const c of listed) {
      // First sight on this device: live events start here; `history()` shows what came before.
      if (lastSeq[c.conversation_id] === undefined) lastSeq[c.conversation_id] = c.last_seq ?? 0;
    }
    for (const conversation of this._d.conversations.known()) {
      await this._sync(conversation.conversation_id);
    }
  }

  /** Everything after the high-water mark, page by page, in `seq` order. @param {string} conversationId */
  async _sync(conversationId) {
    const conversation = await this._d.conversations.get(conversationId);
    for (;;) {
      const after = this._d.device.state.lastSeq[conversationId] ?? 0;
      const page = await this._d.api.history(conversationId, { afterSeq: after, limit: PAGE });
      const fresh = /** @type {any[]} */ (page.messages)
        .filter((m) => Number.isSafeInteger(m.seq) && m.seq > after)
        .sort((a, b) => a.seq - b.seq);
      for (const item of fresh) await this._deliver(item, conversation, null);
      if (!page.has_more || fresh.length === 0) return; // an answer that does not advance would loop
    }
  }

  /** @param {any} raw */
  async _pushed(raw) {
    const messageId = typeof raw?.message_id === 'string' ? raw.message_id : null;
    let conversation;
    try {
      conversation = await this._d.conversations.get(String(raw?.conversation_id));
    } catch (error) {
      if (!(error instanceof HavenError) || error.code !== 'unknown_conversation') throw error;
      await this._d.emit(
        'message',
        failedItem(raw, 'not one of this account’s conversations', 'conversation_id'),
      );
      if (messageId) this._d.ack(messageId);
      return;
    }
    const cid = conversation.conversation_id;
    const last = this._d.device.state.lastSeq[cid] ?? 0;
    if (!Number.isSafeInteger(raw.seq) || messageId === null) {
      await this._d.emit('message', failedItem(raw, 'malformed delivery', 'message'));
      if (messageId) this._d.ack(messageId);
      return;
    }
    if (raw.seq > last + 1) {
      await this._sync(cid); // a gap: fetch it, in order, the pushed message included
      if (this._known(cid, messageId)) return this._d.ack(messageId);
    }
    await this._deliver(raw, conversation, messageId);
  }

  /**
   * Open, emit, remember, save, then ack (`ackId` for pushed messages).
   * @param {any} item @param {import('./keystore.js').StoredConversation} conversation @param {string | null} ackId
   */
  async _deliver(item, conversation, ackId) {
    const state = this._d.device.state;
    const cid = conversation.conversation_id;
    const seen = (state.seenIds[cid] ??= {});
    const earlier = seen[item.message_id];
    if (earlier === item.seq || (earlier === undefined && item.seq <= (state.lastSeq[cid] ?? 0))) {
      if (ackId) this._d.ack(ackId);
      return;
    }
    const view =
      earlier !== undefined
        ? {
            ...failedItem(
              item,
              'a message id seen before, under another seq: a replay',
              'message_id',
            ),
            conversationId: cid,
          }
        : await this._d.opener.open(item, conversation);
    if (view.kind === 'deleted') {
      await this._d.emit('message_deleted', {
        conversationId: cid,
        messageId: view.messageId,
        seq: view.seq,
      });
    } else {
      await this._d.emit('message', view);
    }
    if (earlier === undefined) seen[item.message_id] = item.seq;
    if (item.seq > (state.lastSeq[cid] ?? 0)) state.lastSeq[cid] = item.seq;
    await this._d.device.save();
    if (ackId) this._d.ack(ackId);
  }

  /** @param {string} cid @param {string} messageId */
  _known(cid, messageId) {
    return this._d.device.state.seenIds[cid]?.[messageId] !== undefined;
  }

  /** Refetch keys and recompute safety numbers now, so a change is surfaced at once. @param {string} accountId */
  async _devicesChanged(accountId) {
    this._d.directory.invalidate(accountId);
    await this._d.emit('devices_changed', { accountId });
    const own = this._d.trust.ownAccountId();
    for (const conversation of this._d.conversations.known()) {
      for (const p of this._d.trust.counterparts(conversation)) {
        if (accountId !== own && accountId !== p.account_id) continue;
        try {
          await this._d.trust.safetyNumber(p, { fresh: true });
        } catch (error) {
          if (transient(error)) throw error; // the whole job is tried again later
          await this._d.emit('error', { event: 'devices_changed', error }); // the others still go
        }
      }
    }
  }
}

/** @param {unknown} error */
function transient(error) {
  if (error instanceof HavenApiError) return error.status === 429 || error.status >= 500;
  return (
    error instanceof TypeError || (error instanceof HavenError && error.code === 'socket_closed')
  );
}
