// A coach (kim) and a client (sam) in one conversation on a fake gateway, and helpers to make
// devices and envelopes outside the SDK (what a hostile or broken server could present).
import WebSocket from 'ws';

import {
  HavenClient,
  MemoryKeyStore,
  b64d,
  b64e,
  envelopeFromWire,
  envelopeToWire,
  generateDeviceKeys,
  seal,
  signKx,
  signatureInput,
  sodiumReady,
} from '../../src/index.js';
import { signDetached } from '../../src/crypto.js';
import { newMessageId } from '../../src/sender.js';
import { startFakeGateway } from './fake-gateway.js';

export async function world() {
  await sodiumReady();
  const gw = await startFakeGateway();
  const kim = gw.addAccount('kim', 'coach');
  const sam = gw.addAccount('sam', 'client');
  const cid = gw.addConversation([kim.account_id, sam.account_id]);
  /** @type {HavenClient[]} */
  const clients = [];
  /** @param {any} account @param {Record<string, any>} [extra] */
  const signIn = async (account, extra = {}) => {
    const client = await HavenClient.signIn({
      baseUrl: gw.url,
      handle: account.handle,
      password: account.password,
      keyStore: new MemoryKeyStore(),
      WebSocket,
      backoff: { initialMs: 20, maxMs: 200 },
      ...extra,
    });
    clients.push(client);
    return client;
  };
  /** Stop every client made here (sockets, timers), then the gateway. */
  const close = async () => {
    for (const client of clients) client._stop();
    await gw.close();
  };
  return { gw, kim, sam, cid, signIn, close, clients };
}

/**
 * A device whose keys the test holds, registered straight at the gateway.
 * @param {import('./fake-gateway.js').FakeGateway} gw @param {any} account
 * @param {{hidden?: boolean, handle?: string, createdAt?: number}} [o]
 */
export function rogueDevice(gw, account, o = {}) {
  const keys = generateDeviceKeys();
  const device = gw.addDevice(
    account.account_id,
    {
      identity_key: b64e(keys.identityPublic),
      kx_key: b64e(keys.kxPublic),
      kx_signature: b64e(signKx(keys, o.handle ?? account.handle)),
    },
    o.createdAt ? { created_at: new Date(o.createdAt).toISOString() } : {},
  );
  if (o.hidden) gw.hidden.add(device.device_id);
  return { keys, device };
}

/**
 * Seal `text` as a rogue device for every active device in the conversation and store it unchecked.
 * @param {import('./fake-gateway.js').FakeGateway} gw @param {string} cid
 * @param {{keys: import('../../src/crypto.js').DeviceKeys, device: any}} from @param {string} text
 * @param {{urgent?: boolean, sealFor?: string, tamper?: (wire: any) => any, at?: number}} [o]
 */
export function sealAs(gw, cid, from, text, o = {}) {
  const conversation = gw.conversations.get(cid);
  const recipients = new Map();
  for (const accountId of conversation.participants) {
    for (const d of gw.activeDevices(accountId)) recipients.set(d.device_id, b64d(d.kx_key));
  }
  recipients.set(from.device.device_id, from.keys.kxPublic);
  const messageId = newMessageId();
  const payload = new TextEncoder().encode(
    JSON.stringify({ type: 'text', body: text, sent_at: 1 }),
  );
  const envelope = seal({
    payload,
    conversationId: o.sealFor ?? cid,
    messageId,
    senderDeviceId: from.device.device_id,
    identitySecret: from.keys.identitySecret,
    kxPrivate: from.keys.kxPrivate,
    recipients,
    urgent: Boolean(o.urgent),
  });
  const wire = o.tamper ? o.tamper(envelopeToWire(envelope)) : envelopeToWire(envelope);
  return gw.inject(cid, {
    message_id: messageId,
    sender_account_id: from.device.account_id,
    sender_device_id: from.device.device_id,
    urgent: Boolean(o.urgent),
    envelope: wire,
    ...(o.at ? { server_ts: new Date(o.at).toISOString() } : {}),
  });
}

/**
 * Re-sign a changed wire envelope with the sender's key (a sender-side attack, not a server one).
 * @param {any} wire @param {string} cid @param {import('../../src/crypto.js').DeviceKeys} keys
 */
export function resign(wire, cid, keys) {
  const envelope = envelopeFromWire(wire);
  envelope.signature = signDetached(keys.identitySecret, signatureInput(cid, envelope));
  return envelopeToWire(envelope);
}

/**
 * Wait until `predicate` holds, polling; fails the test after `ms`.
 * @param {() => unknown} predicate @param {number} [ms]
 */
export async function until(predicate, ms = 10_000) {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) throw new Error('timed out waiting for a condition');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** @param {string} b64 a base64url string @returns {string} the same with its first byte flipped */
export function flipFirstByte(b64) {
  const bytes = b64d(b64);
  bytes[0] ^= 1;
  return b64e(bytes);
}
