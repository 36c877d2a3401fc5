// A small in-memory Haven gateway for the SDK's tests: the endpoints and WebSocket frames of API.md
// that the SDK uses, with the gateway's real checks (login proof, device set, signature) and knobs
// for what a test needs (forced 429s and refusals, a lying device listing, pushes, clock).
import http from 'node:http';
import { WebSocketServer } from 'ws';

import { FakeStore, Refusal, problem } from './fake-store.js';

export { problem };

/** @param {http.ServerResponse} res @param {number} status @param {unknown} [body] @param {Record<string, string>} [headers] */
function reply(res, status, body, headers = {}) {
  if (body === undefined) {
    res.writeHead(status, headers).end();
    return;
  }
  const type = status >= 400 ? 'application/problem+json' : 'application/json';
  res.writeHead(status, { 'Content-Type': type, ...headers }).end(JSON.stringify(body));
}

export class FakeGateway extends FakeStore {
  constructor() {
    super();
    this.server = http.createServer((req, res) => void this._http(req, res));
    this.wss = new WebSocketServer({ noServer: true });
    this.server.on('upgrade', (req, socket, head) => {
      if (this.closed) return socket.destroy();
      this.wss.handleUpgrade(req, socket, head, (ws) => this._socket(ws));
    });
  }

  async start() {
    await new Promise((resolve) => this.server.listen(0, '127.0.0.1', () => resolve(null)));
    const address = /** @type {import('node:net').AddressInfo} */ (this.server.address());
    this.url = `http://127.0.0.1:${address.port}`;
    return this;
  }

  async close() {
    this.closed = true;
    for (const ws of this.sockets.keys()) ws.terminate();
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(() => resolve(null)));
  }

  // --- HTTP -----------------------------------------------------------------------------------

  /** @param {http.IncomingMessage} req @param {http.ServerResponse} res */
  async _http(req, res) {
    const url = new URL(req.url ?? '/', 'http://x');
    this.log.push(`${req.method} ${url.pathname}`);
    let body = null;
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    if (chunks.length) body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    try {
      const answer = await this._route(req.method ?? 'GET', url, body, req.headers.authorization);
      reply(res, answer.status, answer.body);
    } catch (error) {
      if (!(error instanceof Refusal)) throw error;
      const headers = error.retryAfter !== null ? { 'Retry-After': String(error.retryAfter) } : {};
      reply(res, error.status, error.body, /** @type {Record<string, string>} */ (headers));
    }
  }

  /** @param {string | undefined} header */
  _caller(header) {
    const token = header?.startsWith('Bearer ') ? header.slice(7) : '';
    const session = this.access.get(token);
    if (!session || session.expires < this.now())
      throw new Refusal(401, problem(401, 'unauthorized'));
    const device = this.devices.get(session.deviceId);
    if (!device || device.revoked_at) throw new Refusal(401, problem(401, 'unauthorized'));
    return session;
  }

  /** @param {string} method @param {URL} url @param {any} body @param {string | undefined} auth */
  async _route(method, url, body, auth) {
    const path = url.pathname;
    const route = `${method} ${path}`;
    if (route === 'POST /v1/accounts') return this._register(body);
    if (route === 'POST /v1/sessions') return this._login(body);
    if (route === 'POST /v1/sessions/refresh') return this._refresh(body);
    if (route === 'GET /v1/crisis-resources')
      return { status: 200, body: { resources: this.crisis } };
    const who = this._caller(auth);
    if (route === 'DELETE /v1/sessions/current') {
      for (const [t, s] of this.access) if (s.deviceId === who.deviceId) this.access.delete(t);
      return { status: 204 };
    }
    if (route === 'GET /v1/conversations')
      return { status: 200, body: { conversations: this._conversationsOf(who.accountId) } };
    if (route === 'GET /v1/me') {
      const account = this.accounts.get(who.accountId);
      return {
        status: 200,
        body: {
          ...this._account(account),
          // As the gateway: every device `kind: "device"`, then the backup key entry, if any.
          devices: [
            ...this.activeDevices(who.accountId).map((d) => ({ ...d, kind: 'device' })),
            ...this._listing(who.accountId).body.devices.filter((d) => d.kind === 'backup'),
          ],
        },
      };
    }
    if (path === '/v1/me/backup') return this._backupRoute(method, who, body);
    if (route === 'GET /v1/me/links')
      return { status: 200, body: { links: this.links.get(who.deviceId) ?? [] } };
    let m;
    if ((m = path.match(/^\/v1\/me\/links\/([^/]+)$/)) && method === 'DELETE') {
      const id = decodeURIComponent(m[1]);
      const mine = this.links.get(who.deviceId) ?? [];
      if (!mine.some((l) => l.link_id === id)) throw new Refusal(404, problem(404, 'not_found'));
      this.links.set(
        who.deviceId,
        mine.filter((l) => l.link_id !== id),
      );
      this.acked.push(id);
      return { status: 204 };
    }
    if ((m = path.match(/^\/v1\/devices\/([^/]+)\/link$/)) && method === 'POST')
      return this._link(who, decodeURIComponent(m[1]), body);
    if ((m = path.match(/^\/v1\/accounts\/([^/]+)\/devices$/)))
      return this._listing(decodeURIComponent(m[1]));
    if ((m = path.match(/^\/v1\/devices\/([^/]+)$/)) && method === 'GET') {
      const device = this.devices.get(decodeURIComponent(m[1]));
      if (!device) throw new Refusal(404, problem(404, 'not_found'));
      return { status: 200, body: this._public(device, true) };
    }
    if ((m = path.match(/^\/v1\/devices\/([^/]+)$/)) && method === 'DELETE') {
      const device = this.devices.get(decodeURIComponent(m[1]));
      if (!device || device.account_id !== who.accountId)
        throw new Refusal(404, problem(404, 'not_found'));
      this.revoke(device.device_id);
      return { status: 204 };
    }
    if ((m = path.match(/^\/v1\/devices\/([^/]+)\/kx$/)) && method === 'PUT')
      return this._rotate(who, decodeURIComponent(m[1]), body);
    if ((m = path.match(/^\/v1\/devices\/([^/]+)\/panic$/))) {
      this.revoke(decodeURIComponent(m[1]));
      return { status: 204 };
    }
    if ((m = path.match(/^\/v1\/conversations\/([^/]+)\/messages$/))) {
      const cid = decodeURIComponent(m[1]);
      if (method === 'POST') return { status: 202, body: this._send(who, cid, body.envelope) };
      return this._history(cid, url.searchParams);
    }
    throw new Refusal(404, problem(404, 'not_found'));
  }

  // --- WebSocket ------------------------------------------------------------------------------

  /** @param {import('ws').WebSocket} ws */
  _socket(ws) {
    const info = {
      deviceId: /** @type {string | null} */ (null),
      accountId: '',
      auths: 0,
      /** @type {number[]} */ strikes: [],
    };
    this.sockets.set(ws, info);
    ws.on('close', () => this.sockets.delete(ws));
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data));
      if (frame.type === 'auth') {
        const session = this.access.get(frame.access_token);
        if (!session || session.expires < this.now()) return ws.close(4401, 'not authenticated');
        info.auths += 1;
        if (info.deviceId === null) {
          for (const [other, o] of this.sockets)
            if (other !== ws && o.deviceId === session.deviceId) other.close(4409, 'replaced');
          info.deviceId = session.deviceId;
          info.accountId = session.accountId;
          ws.send(JSON.stringify({ type: 'ready' }));
        }
        return;
      }
      if (info.deviceId === null) return ws.close(4401, 'not authenticated');
      if (frame.type === 'ack') this.acks.push(frame.message_id);
      else if (frame.type === 'ping') ws.send(JSON.stringify({ type: 'pong' }));
      else if (frame.type === 'send') {
        const who = { accountId: info.accountId, deviceId: info.deviceId };
        try {
          ws.send(
            JSON.stringify({
              type: 'accepted',
              ...this._send(who, frame.conversation_id, frame.envelope),
            }),
          );
        } catch (error) {
          if (!(error instanceof Refusal)) throw error;
          const retry = error.retryAfter !== null ? { retry_after: error.retryAfter } : {};
          if (error.body.code === 'rate_limited') {
            // The gateway's strikes: five refused sends within a minute close the socket.
            const now = this.now();
            info.strikes = [...info.strikes.filter((at) => now - at < 60_000), now];
            if (info.strikes.length >= 5) ws.close(4429, 'rate limited');
          }
          const fields = { ...error.body };
          delete fields.type;
          ws.send(
            JSON.stringify({
              ...fields,
              ...retry,
              type: 'error',
              message_id: frame.envelope?.message_id,
            }),
          );
        }
      }
    });
  }
}

/** @returns {Promise<FakeGateway>} */
export function startFakeGateway() {
  return new FakeGateway().start();
}
