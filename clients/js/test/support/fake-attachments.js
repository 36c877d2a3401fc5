// The fake gateway with the attachment endpoints of API.md ("Attachments"): a sized
// application/octet-stream upload (411/415/413 as the gateway answers), participants-only
// download, and `attachment_ids` on a send (HTTP body or WebSocket frame) that must name the
// sender's own pending uploads to that conversation. Knobs: a size limit, a quota, a download
// that tampers with the stored bytes.
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';

import { HavenClient, MemoryKeyStore, sodiumReady } from '../../src/index.js';
import { FakeGateway, problem } from './fake-gateway.js';
import { Refusal } from './fake-store.js';

/**
 * @typedef {object} StoredBlob
 * @property {string} conversationId
 * @property {string} owner account id of the uploader
 * @property {Uint8Array} bytes
 * @property {string | null} messageId set once a message refers to it
 */

export class AttachmentGateway extends FakeGateway {
  constructor() {
    super();
    /** @type {Map<string, StoredBlob>} */ this.blobs = new Map();
    /** @type {Record<string, string | undefined>[]} */ this.uploadHeaders = [];
    /** @type {{via: 'http' | 'ws', ids: string[]}[]} */ this.referenced = [];
    this.maxBytes = Infinity;
    this.quotaBytes = Infinity;
    /** @type {((bytes: Uint8Array) => Uint8Array) | null} */ this.tamper = null;
  }

  /**
   * @override
   * @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res
   */
  async _http(req, res) {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const match = path.match(/^\/v1\/conversations\/([^/]+)\/attachments(?:\/([^/]+))?$/);
    if (!match) return super._http(req, res);
    this.log.push(`${req.method} ${path}`);
    try {
      const cid = decodeURIComponent(match[1]);
      if (req.method === 'POST' && !match[2]) await this._upload(req, res, cid);
      else if (req.method === 'GET' && match[2])
        this._download(req, res, cid, decodeURIComponent(match[2]));
      else throw new Refusal(405, problem(405, 'method_not_allowed'));
    } catch (error) {
      if (!(error instanceof Refusal)) throw error;
      res.writeHead(error.status, {
        'Content-Type': 'application/problem+json',
        Connection: 'close',
      });
      res.end(JSON.stringify(error.body));
    }
  }

  /** @param {string} cid @param {string} accountId */
  _participant(cid, accountId) {
    const conversation = this.conversations.get(cid);
    if (!conversation || !conversation.participants.includes(accountId))
      throw new Refusal(404, problem(404, 'not_found'));
    return conversation;
  }

  /** @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res @param {string} cid */
  async _upload(req, res, cid) {
    const who = this._caller(req.headers.authorization);
    this.uploadHeaders.push({
      'content-length': req.headers['content-length'],
      'content-type': req.headers['content-type'],
      'transfer-encoding': req.headers['transfer-encoding'],
    });
    const length = Number(req.headers['content-length']);
    if (req.headers['transfer-encoding'] || !Number.isSafeInteger(length))
      throw new Refusal(411, problem(411, 'length_required'));
    if (req.headers['content-type'] !== 'application/octet-stream')
      throw new Refusal(415, problem(415, 'unsupported_media_type'));
    if (length > this.maxBytes) throw new Refusal(413, problem(413, 'payload_too_large'));
    const conversation = this._participant(cid, who.accountId);
    if (conversation.status === 'paused')
      throw new Refusal(409, problem(409, 'paused', { reason: 'Away', resume_on: null }));
    if (length > this.quotaBytes) throw new Refusal(413, problem(413, 'quota_exceeded'));
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const bytes = new Uint8Array(Buffer.concat(chunks));
    if (bytes.length !== length) throw new Refusal(400, problem(400, 'invalid_request'));
    const id = `att_${randomBytes(6).toString('hex')}`;
    this.blobs.set(id, { conversationId: cid, owner: who.accountId, bytes, messageId: null });
    res.writeHead(201, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ attachment_id: id, size: length }));
  }

  /** @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res @param {string} cid @param {string} id */
  _download(req, res, cid, id) {
    const who = this._caller(req.headers.authorization);
    this._participant(cid, who.accountId);
    const blob = this.blobs.get(id);
    const visible =
      blob && blob.conversationId === cid && (blob.messageId || blob.owner === who.accountId);
    if (!blob || !visible) throw new Refusal(404, problem(404, 'not_found'));
    const bytes = this.tamper ? this.tamper(blob.bytes.slice()) : blob.bytes;
    res.writeHead(200, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(bytes.length),
      'Cache-Control': 'no-store',
    });
    // In pieces that do not line up with chunks, as a network would deliver them.
    for (let at = 0; at < bytes.length; at += 10_000) res.write(bytes.subarray(at, at + 10_000));
    res.end();
  }

  /** The gateway's rule for `attachment_ids`. @param {any} who @param {string} cid @param {unknown} ids */
  _claim(who, cid, ids) {
    if (ids === undefined || ids === null) return [];
    const list = Array.isArray(ids) ? ids : [];
    const fine =
      Array.isArray(ids) &&
      list.length <= 10 &&
      new Set(list).size === list.length &&
      list.every((id) => {
        const blob = this.blobs.get(id);
        return (
          blob && blob.conversationId === cid && blob.owner === who.accountId && !blob.messageId
        );
      });
    if (!fine)
      throw new Refusal(
        422,
        problem(422, 'invalid_request', { errors: [{ field: 'attachment_ids' }] }),
      );
    return list;
  }

  /**
   * @override
   * @param {string} method @param {URL} url @param {any} body @param {string | undefined} auth
   */
  async _route(method, url, body, auth) {
    const match = url.pathname.match(/^\/v1\/conversations\/([^/]+)\/messages$/);
    if (method !== 'POST' || !match) return super._route(method, url, body, auth);
    const cid = decodeURIComponent(match[1]);
    const ids = this._claim(this._caller(auth), cid, body?.attachment_ids);
    const answer = await super._route(method, url, body, auth);
    this._tie(ids, body.envelope.message_id, 'http');
    return answer;
  }

  /** @param {string[]} ids @param {string} messageId @param {'http' | 'ws'} via */
  _tie(ids, messageId, via) {
    if (!ids.length) return;
    this.referenced.push({ via, ids });
    for (const id of ids) /** @type {StoredBlob} */ (this.blobs.get(id)).messageId = messageId;
  }

  /** @override @param {import('ws').WebSocket} ws */
  _socket(ws) {
    // Heard before the base class's handler stores the message: the frame's attachment_ids.
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data));
      const info = this.sockets.get(ws);
      if (frame.type !== 'send' || !info?.deviceId || frame.attachment_ids === undefined) return;
      const who = { accountId: /** @type {any} */ (info).accountId, deviceId: info.deviceId };
      try {
        this._tie(
          this._claim(who, frame.conversation_id, frame.attachment_ids),
          frame.envelope.message_id,
          'ws',
        );
      } catch {
        this.referenced.push({ via: 'ws', ids: ['refused'] });
      }
    });
    super._socket(ws);
  }
}

/** A coach (kim) and a client (sam) in one conversation on an `AttachmentGateway`. */
export async function attachmentWorld() {
  await sodiumReady();
  const gw = await new AttachmentGateway().start();
  const kim = gw.addAccount('kim', 'coach');
  const sam = gw.addAccount('sam', 'client');
  const cid = gw.addConversation([kim.account_id, sam.account_id]);
  /** @type {HavenClient[]} */
  const clients = [];
  /** @param {any} account */
  const signIn = async (account) => {
    const client = await HavenClient.signIn({
      baseUrl: gw.url,
      handle: account.handle,
      password: account.password,
      keyStore: new MemoryKeyStore(),
      WebSocket,
      backoff: { initialMs: 20, maxMs: 200 },
    });
    clients.push(client);
    return client;
  };
  const close = async () => {
    for (const client of clients) client._stop();
    await gw.close();
  };
  return { gw, kim, sam, cid, signIn, close };
}
