// The state and checks of the fake gateway (tests/support/fake-gateway.js serves them over HTTP
// and WebSocket): accounts, devices, conversations, messages, tokens, and the knobs tests turn.
import { randomBytes, randomUUID } from 'node:crypto';

import {
  b64d,
  envelopeFromWire,
  verifyEnvelope,
  verifyKxSignature,
  verifyLoginProof,
} from '../../src/index.js';

/** @param {string} code @param {number} status @param {Record<string, unknown>} [extra] */
export function problem(status, code, extra = {}) {
  return {
    type: `https://haven.invalid/problems/${code}`,
    title: code,
    status,
    detail: code,
    code,
    ...extra,
  };
}

export class Refusal extends Error {
  /** @param {number} status @param {Record<string, any>} body @param {number | null} [retryAfter] */
  constructor(status, body, retryAfter = null) {
    super(body.code);
    this.status = status;
    this.body = body;
    this.retryAfter = retryAfter;
  }
}

export class FakeStore {
  constructor() {
    this.now = () => Date.now();
    this.tokenLifetime = 300;
    /** @type {Map<string, any>} */ this.accounts = new Map();
    /** @type {Map<string, any>} */ this.devices = new Map();
    /** @type {Map<string, any>} */ this.conversations = new Map();
    /** @type {Map<string, any[]>} */ this.messages = new Map();
    /** @type {Map<string, {accountId: string, deviceId: string, expires: number}>} */ this.access =
      new Map();
    /** @type {Map<string, string>} */ this.refreshTokens = new Map();
    /** @type {Set<string>} */ this.hidden = new Set();
    /** @type {Map<string, string>} */ this.identityOverride = new Map();
    /** @type {{status: number, body: Record<string, any>, retryAfter?: number}[]} */ this.forcedSends =
      [];
    /** @type {{perSecond: number, burst: number, tokens: number, at: number} | null} */ this.sendBudget =
      null;
    this.refusedForRate = 0;
    this.pushOnSend = true;
    this.closed = false;
    this.refuseKx = false;
    /** @type {string[]} */ this.acks = [];
    /** @type {any[]} */ this.received = [];
    /** @type {string[]} */ this.log = [];
    /** @type {Map<any, {deviceId: string | null}>} */ this.sockets = new Map();
    /** @type {Map<string, any[]>} device → links waiting for it */ this.links = new Map();
    this.backupCount = 0;
    /** @type {string[]} link ids acknowledged */ this.acked = [];
    this.crisis = [
      { name: 'Helpline', contact: '0800 000', description: 'Any time', region: 'XX' },
    ];
  }

  // --- set-up helpers --------------------------------------------------------------------

  /** @param {string} handle @param {string} role @param {string} [password] */
  addAccount(handle, role, password = 'correct horse battery') {
    const account = {
      account_id: `acc_${handle}`,
      handle,
      role,
      display_name: handle.toUpperCase(),
      password,
    };
    this.accounts.set(account.account_id, account);
    return account;
  }

  /** @param {string[]} accountIds @param {Record<string, any>} [extra] */
  addConversation(accountIds, extra = {}) {
    const id = `conv_${randomBytes(4).toString('hex')}`;
    this.conversations.set(id, {
      conversation_id: id,
      status: 'active',
      participants: accountIds,
      retention_days: 30,
      ...extra,
    });
    this.messages.set(id, []);
    return id;
  }

  /** Register a device directly (not through login). @param {string} accountId @param {{identity_key: string, kx_key: string, kx_signature: string}} keys */
  addDevice(accountId, keys, extra = {}) {
    const device = {
      device_id: `dev_${randomBytes(5).toString('hex')}`,
      account_id: accountId,
      name: 'device',
      created_at: new Date(this.now()).toISOString(),
      revoked_at: null,
      previous_kx_keys: [],
      ...keys,
      ...extra,
    };
    this.devices.set(device.device_id, device);
    return device;
  }

  /** @param {string} deviceId @param {number} [at] */
  revoke(deviceId, at = this.now()) {
    this.devices.get(deviceId).revoked_at = new Date(at).toISOString();
    for (const [ws, info] of this.sockets)
      if (info.deviceId === deviceId) ws.close(4403, 'revoked');
  }

  /** @param {string} accountId */
  activeDevices(accountId) {
    return [...this.devices.values()].filter((d) => d.account_id === accountId && !d.revoked_at);
  }

  /** Store an item as if the gateway had accepted it (no checks): for tampered-input tests. @param {string} cid @param {any} item */
  inject(cid, item) {
    const list = /** @type {any[]} */ (this.messages.get(cid));
    const seq = (list.at(-1)?.seq ?? 0) + 1;
    const stored = {
      conversation_id: cid,
      server_ts: new Date(this.now()).toISOString(),
      deleted: false,
      ...item,
      seq,
    };
    list.push(stored);
    return stored;
  }

  /** @param {string} deviceId @param {Record<string, unknown>} frame */
  push(deviceId, frame) {
    for (const [ws, info] of this.sockets)
      if (info.deviceId === deviceId) ws.send(JSON.stringify(frame));
  }

  /** @param {any} account */
  _account(account) {
    return {
      account_id: account.account_id,
      handle: account.handle,
      role: account.role,
      display_name: account.display_name,
    };
  }

  /** @param {any} body */
  _register(body) {
    if (body.invite_code !== 'good-invite') throw new Refusal(400, problem(400, 'invite_invalid'));
    if ([...this.accounts.values()].some((a) => a.handle === body.handle))
      throw new Refusal(409, problem(409, 'conflict'));
    return {
      status: 201,
      body: this._account(this.addAccount(body.handle, 'client', body.password)),
    };
  }

  /** @param {any} body */
  _login(body) {
    const d = body.device;
    const ts = d.ts;
    const keys = [b64d(d.identity_key), b64d(d.kx_key)];
    if (
      !verifyKxSignature(keys[0], body.handle, keys[1], b64d(d.kx_signature)) ||
      !verifyLoginProof(keys[0], body.handle, ts, keys[1], b64d(d.proof))
    ) {
      throw new Refusal(422, problem(422, 'bad_signature'));
    }
    const serverTime = Math.floor(this.now() / 1000);
    if (Math.abs(ts - serverTime) > 300)
      throw new Refusal(422, problem(422, 'clock_skew', { server_time: serverTime }));
    const account = [...this.accounts.values()].find((a) => a.handle === body.handle);
    if (!account || account.password !== body.password)
      throw new Refusal(401, problem(401, 'unauthorized'));
    let device = this.activeDevices(account.account_id).find(
      (x) => x.identity_key === d.identity_key,
    );
    if (device) Object.assign(device, { kx_key: d.kx_key, kx_signature: d.kx_signature });
    else
      device = this.addDevice(
        account.account_id,
        { identity_key: d.identity_key, kx_key: d.kx_key, kx_signature: d.kx_signature },
        { name: d.name },
      );
    return { status: 201, body: this._session(account, device.device_id) };
  }

  /** @param {any} account @param {string} deviceId */
  _session(account, deviceId) {
    const access = `at_${randomUUID()}`;
    const refresh = `rt_${randomUUID()}`;
    this.access.set(access, {
      accountId: account.account_id,
      deviceId,
      expires: this.now() + this.tokenLifetime * 1000,
    });
    this.refreshTokens.set(refresh, deviceId);
    return {
      access_token: access,
      refresh_token: refresh,
      expires_in: this.tokenLifetime,
      device_id: deviceId,
      account: this._account(account),
    };
  }

  /** @param {any} body */
  _refresh(body) {
    const deviceId = this.refreshTokens.get(body.refresh_token);
    this.refreshTokens.delete(body.refresh_token);
    const device = deviceId ? this.devices.get(deviceId) : null;
    if (!device || device.revoked_at) throw new Refusal(401, problem(401, 'unauthorized'));
    return {
      status: 200,
      body: this._session(this.accounts.get(device.account_id), device.device_id),
    };
  }

  /** @param {string} accountId */
  _conversationsOf(accountId) {
    return [...this.conversations.values()]
      .filter((c) => c.participants.includes(accountId))
      .map((c) => ({
        conversation_id: c.conversation_id,
        status: c.status,
        participants: c.participants.map((/** @type {string} */ id) => {
          const a = this.accounts.get(id);
          return { account_id: id, handle: a.handle, display_name: a.display_name, role: a.role };
        }),
        last_seq: /** @type {any[]} */ (this.messages.get(c.conversation_id)).at(-1)?.seq ?? 0,
        read_up_to: 0,
        pause: null,
        retention_days: c.retention_days,
        settings: {},
      }));
  }

  /** @param {any} device @param {boolean} detail */
  _public(device, detail) {
    const out = {
      device_id: device.device_id,
      kind: 'device',
      identity_key: this.identityOverride.get(device.device_id) ?? device.identity_key,
      kx_key: device.kx_key,
      kx_signature: device.kx_signature,
      created_at: device.created_at,
    };
    if (!detail) return out;
    return {
      ...out,
      account_id: device.account_id,
      revoked_at: device.revoked_at,
      previous_kx_keys: device.previous_kx_keys,
    };
  }

  /** @param {string} accountId */
  _listing(accountId) {
    /** @type {any[]} */
    const devices = this.activeDevices(accountId)
      .filter((d) => !this.hidden.has(d.device_id))
      .map((d) => this._public(d, false));
    const backup = this.accounts.get(accountId)?.backup;
    if (backup)
      devices.push({
        device_id: backup.backup_id,
        kind: 'backup',
        kx_key: backup.kx_key,
        signatures: backup.signatures,
      });
    return { status: 200, body: { account_id: accountId, devices } };
  }

  /** @param {{deviceId: string}} who @param {string} deviceId @param {any} body */
  _rotate(who, deviceId, body) {
    const device = this.devices.get(deviceId);
    if (who.deviceId !== deviceId) throw new Refusal(403, problem(403, 'forbidden'));
    if (this.refuseKx) throw new Refusal(429, problem(429, 'rate_limited'), 60);
    device.previous_kx_keys.push({
      kx_key: device.kx_key,
      kx_signature: device.kx_signature,
      replaced_at: new Date(this.now()).toISOString(),
    });
    Object.assign(device, { kx_key: body.kx_key, kx_signature: body.kx_signature });
    return { status: 204 };
  }

  /** The gateway's send checks; returns the 202 body or throws a `Refusal`. @param {{accountId: string, deviceId: string}} who @param {string} cid @param {any} wire */
  _send(who, cid, wire) {
    this.received.push(wire);
    const conversation = this.conversations.get(cid);
    if (!conversation || !conversation.participants.includes(who.accountId))
      throw new Refusal(404, problem(404, 'not_found'));
    const extra = wire?.urgent ? { crisis_resources: this.crisis } : {};
    this._spend();
    const forced = this.forcedSends.shift();
    if (forced)
      throw new Refusal(
        forced.status,
        { ...problem(forced.status, forced.body.code), ...forced.body, ...extra },
        forced.retryAfter ?? null,
      );
    if (conversation.status === 'paused')
      throw new Refusal(409, problem(409, 'paused', { reason: 'Away', resume_on: null, ...extra }));
    const envelope = envelopeFromWire(wire);
    if (envelope.senderDeviceId !== who.deviceId) throw new Refusal(403, problem(403, 'forbidden'));
    /** @type {string[]} */
    const expected = conversation.participants.flatMap((/** @type {string} */ a) => {
      const ids = this.activeDevices(a).map((d) => d.device_id);
      const backup = this.accounts.get(a).backup;
      return backup ? [...ids, backup.backup_id] : ids;
    });
    const given = [...envelope.keys.keys()];
    const missing = expected.filter((d) => !given.includes(d));
    const extraDevices = given.filter((d) => !expected.includes(d));
    if (missing.length || extraDevices.length) {
      throw new Refusal(
        409,
        problem(409, 'device_mismatch', { missing_devices: missing, extra_devices: extraDevices }),
      );
    }
    const sender = this.devices.get(who.deviceId);
    try {
      verifyEnvelope(cid, envelope, b64d(sender.identity_key));
    } catch {
      throw new Refusal(422, problem(422, 'bad_signature'));
    }
    const list = /** @type {any[]} */ (this.messages.get(cid));
    const existing = list.find((m) => m.message_id === wire.message_id);
    if (!existing) {
      const item = this.inject(cid, {
        message_id: wire.message_id,
        sender_account_id: who.accountId,
        sender_device_id: who.deviceId,
        urgent: wire.urgent,
        envelope: wire,
      });
      if (this.pushOnSend) {
        for (const deviceId of given) this.push(deviceId, { type: 'message', message: item });
      }
    }
    return { message_id: wire.message_id, status: 'accepted', ...extra };
  }

  /**
   * `/v1/me/backup`: publish (replaces), read, remove; each announced as `devices_changed`.
   * @param {string} method @param {{accountId: string}} who @param {any} body
   * @returns {{status: number, body?: any}}
   */
  _backupRoute(method, who, body) {
    const account = this.accounts.get(who.accountId);
    if (method === 'GET') {
      if (!account.backup) throw new Refusal(404, problem(404, 'not_found'));
      return { status: 200, body: account.backup };
    }
    if (method === 'PUT') {
      this.backupCount += 1;
      const earlier = account.backup?.kx_key === body.kx_key ? account.backup : null;
      account.backup = {
        backup_id: `bkp_${account.handle}_${this.backupCount}`,
        kx_key: body.kx_key,
        signatures: body.signatures,
        created_at: new Date(this.now()).toISOString(),
        earlier_backup_ids: earlier ? [earlier.backup_id, ...earlier.earlier_backup_ids] : [],
      };
      this._announce(who.accountId);
      return { status: 200, body: account.backup };
    }
    if (!account.backup) throw new Refusal(404, problem(404, 'not_found'));
    delete account.backup;
    this._announce(who.accountId);
    return { status: 204 };
  }

  /** @param {string} accountId */
  _announce(accountId) {
    for (const d of this.activeDevices(accountId))
      this.push(d.device_id, { type: 'devices_changed', account_id: accountId });
  }

  /** `POST /v1/devices/{id}/link`: only to another device of the caller's account. @param {{accountId: string, deviceId: string}} who @param {string} target @param {any} body */
  _link(who, target, body) {
    const device = this.devices.get(target);
    if (!device || device.revoked_at || device.account_id !== who.accountId)
      throw new Refusal(404, problem(404, 'not_found'));
    if (body.sender_device_id !== who.deviceId) throw new Refusal(403, problem(403, 'forbidden'));
    const link = {
      link_id: `lnk_${randomBytes(4).toString('hex')}`,
      sender_device_id: who.deviceId,
      ciphertext: body.ciphertext,
      created_at: new Date(this.now()).toISOString(),
    };
    this.links.set(target, [...(this.links.get(target) ?? []), link]);
    this.push(target, { type: 'link', ...link });
    return { status: 201, body: { link_id: link.link_id } };
  }

  /** The per-account send budget, as the gateway's token bucket. */
  _spend() {
    const b = this.sendBudget;
    if (!b) return;
    const now = this.now();
    b.tokens = Math.min(b.burst, b.tokens + ((now - b.at) / 1000) * b.perSecond);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return;
    }
    this.refusedForRate += 1;
    // As the gateway's GCRA: whole seconds until the next message may go (not the refill rate).
    const retryAfter = Math.max(1, Math.ceil((1 - b.tokens) / b.perSecond));
    throw new Refusal(429, problem(429, 'rate_limited'), retryAfter);
  }

  /** @param {string} cid @param {URLSearchParams} params */
  _history(cid, params) {
    const list = this.messages.get(cid) ?? [];
    const limit = Number(params.get('limit') ?? 50);
    if (params.has('before_seq')) {
      const before = Number(params.get('before_seq'));
      const older = list.filter((m) => m.seq < before).reverse();
      return {
        status: 200,
        body: { messages: older.slice(0, limit), has_more: older.length > limit },
      };
    }
    const after = Number(params.get('after_seq') ?? 0);
    const newer = list.filter((m) => m.seq > after);
    return {
      status: 200,
      body: { messages: newer.slice(0, limit), has_more: newer.length > limit },
    };
  }
}
