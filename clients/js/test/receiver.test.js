// Receiver checks: every message that fails one is a visible `failed` item naming the check.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { flipFirstByte, resign, rogueDevice, sealAs, until, world } from './support/world.js';
import { randomBytes } from 'node:crypto';

/** @param {import('../src/index.js').HavenClient} client @param {string} cid @param {string} messageId */
async function view(client, cid, messageId) {
  const { messages } = await client.history(cid, { afterSeq: 0, limit: 200 });
  const found = messages.find((m) => m.messageId === messageId);
  assert.ok(found, `message ${messageId} is in the history`);
  return found;
}

test('a sound message opens, with the sender and trust the receiver worked out', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const kim = await w.signIn(w.kim);
  const sam = await w.signIn(w.sam);
  const sent = await kim.send(w.cid, 'Hello Sam', {});
  assert.equal(sent.state, 'sent');
  const got = await view(sam, w.cid, sent.messageId);
  assert.equal(got.kind, 'message');
  assert.equal(got.body, 'Hello Sam');
  assert.equal(got.outgoing, false);
  assert.equal(got.trust, 'unverified');
  assert.equal(got.senderAccountId, w.kim.account_id);
  const own = await view(kim, w.cid, sent.messageId);
  assert.equal(own.kind, 'message');
  assert.equal(own.outgoing, true);
});

test('a tampered signature is refused', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const sam = await w.signIn(w.sam);
  const from = rogueDevice(w.gw, w.kim);
  const item = sealAs(w.gw, w.cid, from, 'hi', {
    tamper: (wire) => ({ ...wire, signature: flipFirstByte(wire.signature) }),
  });
  const got = await view(sam, w.cid, item.message_id);
  assert.equal(got.kind, 'failed');
  assert.equal(got.field, 'signature');
});

test('an envelope sealed for another conversation does not open here (aad from our own record)', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const other = w.gw.addConversation([w.kim.account_id, w.sam.account_id]);
  const sam = await w.signIn(w.sam);
  const from = rogueDevice(w.gw, w.kim);
  const item = sealAs(w.gw, w.cid, from, 'for the other room', { sealFor: other });
  const got = await view(sam, w.cid, item.message_id);
  assert.equal(got.kind, 'failed');
  assert.equal(got.field, 'signature');
  // The server's field naming another conversation is not believed either.
  const moved = w.gw.inject(w.cid, {
    ...item,
    message_id: crypto.randomUUID(),
    conversation_id: other,
  });
  const misfiled = await view(sam, w.cid, moved.message_id);
  assert.equal(misfiled.kind, 'failed');
  assert.equal(misfiled.field, 'conversation_id');
});

test('a replayed message id under a new seq is refused, in history and live', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const kim = await w.signIn(w.kim);
  const sam = await w.signIn(w.sam);
  const sent = await kim.send(w.cid, 'once', {});
  const original = w.gw.messages.get(w.cid)?.at(-1);
  const first = await view(sam, w.cid, sent.messageId);
  assert.equal(first.kind, 'message');
  const replay = w.gw.inject(w.cid, { ...original });
  const { messages } = await sam.history(w.cid, { afterSeq: 0 });
  const replayed = messages.find((m) => m.seq === replay.seq);
  assert.equal(replayed?.kind, 'failed');
  assert.equal(replayed?.field, 'message_id');

  /** @type {any[]} */
  const events = [];
  sam.on('message', (m) => events.push(m));
  sam.connect();
  t.after(() => sam.disconnect());
  await until(() => sam.connectionState === 'open');
  const again = w.gw.inject(w.cid, { ...original });
  w.gw.push(/** @type {string} */ (sam.deviceId), { type: 'message', message: again });
  await until(() => events.some((e) => e.seq === again.seq));
  const live = events.find((e) => e.seq === again.seq);
  assert.equal(live.kind, 'failed');
  assert.equal(live.field, 'message_id');
});

test('a device the account listing leaves out is refused', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const sam = await w.signIn(w.sam);
  const from = rogueDevice(w.gw, w.kim, { hidden: true });
  const item = sealAs(w.gw, w.cid, from, 'from the shadows');
  const got = await view(sam, w.cid, item.message_id);
  assert.equal(got.kind, 'failed');
  assert.equal(got.field, 'sender_device_id');
  assert.match(String(got.reason), /listing/);
});

test('a content key that does not match the signed commitment is refused', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const sam = await w.signIn(w.sam);
  const from = rogueDevice(w.gw, w.kim);
  const item = sealAs(w.gw, w.cid, from, 'two faces', {
    tamper: (wire) =>
      resign(
        { ...wire, commitment: Buffer.from(randomBytes(32)).toString('base64url') },
        w.cid,
        from.keys,
      ),
  });
  const got = await view(sam, w.cid, item.message_id);
  assert.equal(got.kind, 'failed');
  assert.equal(got.field, 'commitment');
});

test('revoked_at is honoured: before it a message opens, after it it is refused', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const sam = await w.signIn(w.sam);
  const from = rogueDevice(w.gw, w.kim);
  await sam.safetyNumber(w.cid); // a listing shows (and pins) the device while it is active
  const before = sealAs(w.gw, w.cid, from, 'before');
  w.gw.revoke(from.device.device_id, Date.now() + 1000);
  const after = sealAs(w.gw, w.cid, from, 'after', { at: Date.now() + 5000 });
  assert.equal((await view(sam, w.cid, before.message_id)).kind, 'message');
  const late = await view(sam, w.cid, after.message_id);
  assert.equal(late.kind, 'failed');
  assert.match(String(late.reason), /revoked/);
});

test("a verified contact's never-listed device is refused; unverified it is marked unlisted", async (t) => {
  const w = await world();
  t.after(() => w.close());
  const sam = await w.signIn(w.sam);
  await w.signIn(w.kim);
  const from = rogueDevice(w.gw, w.kim, { hidden: true });
  const item = sealAs(w.gw, w.cid, from, 'old phone', { at: Date.now() - 60_000 });
  w.gw.revoke(from.device.device_id, Date.now() - 30_000);
  const unverified = await view(sam, w.cid, item.message_id);
  assert.equal(unverified.kind, 'message');
  assert.equal(unverified.trust, 'unlisted');
  await sam.safetyNumber(w.cid);
  await sam.setVerified(w.cid, true);
  const verified = await view(sam, w.cid, item.message_id);
  assert.equal(verified.kind, 'failed');
  assert.match(String(verified.reason), /verified/);
});

test('a listed device shown with another identity key: loud event, refused, sending held', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const kim = await w.signIn(w.kim);
  const sam = await w.signIn(w.sam);
  const sent = await kim.send(w.cid, 'before the swap', {});
  assert.equal((await view(sam, w.cid, sent.messageId)).kind, 'message');
  /** @type {any[]} */
  const changes = [];
  sam.on('safety_number_changed', (c) => changes.push(c));
  const impostor = rogueDevice(w.gw, w.kim);
  w.gw.identityOverride.set(/** @type {string} */ (kim.deviceId), impostor.device.identity_key);
  w.gw.devices.get(kim.deviceId).kx_signature = impostor.device.kx_signature;
  w.gw.devices.get(kim.deviceId).kx_key = impostor.device.kx_key;
  await assert.rejects(sam.send(w.cid, 'are you there?', {}), (error) => {
    assert.equal(/** @type {any} */ (error).code, 'key_change_unacknowledged');
    assert.equal(/** @type {any} */ (error).draft, 'are you there?');
    return true;
  });
  assert.ok(changes.some((c) => c.reason === 'identity_key_changed' && c.requiresAcknowledgement));
});

test('an unknown alg, a flipped urgent flag and a kx key signed for another handle are refused', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const sam = await w.signIn(w.sam);
  const from = rogueDevice(w.gw, w.kim);
  const alg = sealAs(w.gw, w.cid, from, 'x', { tamper: (wire) => ({ ...wire, alg: 'haven-v9' }) });
  assert.equal((await view(sam, w.cid, alg.message_id)).field, 'alg');
  const urgent = sealAs(w.gw, w.cid, from, 'y');
  urgent.urgent = true; // the server claims urgent; the signed flag says otherwise
  assert.equal((await view(sam, w.cid, urgent.message_id)).field, 'urgent');
  const wrong = rogueDevice(w.gw, w.kim, { handle: 'sam' });
  const forged = sealAs(w.gw, w.cid, wrong, 'z');
  const got = await view(sam, w.cid, forged.message_id);
  assert.equal(got.kind, 'failed');
  assert.match(String(got.reason), /kx_signature/);
});

test('a message older than this device says so instead of looking broken', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const kim = await w.signIn(w.kim);
  const sent = await kim.send(w.cid, 'before your new phone', {});
  w.gw.messages
    .get(w.cid)
    ?.forEach((m) => (m.server_ts = new Date(Date.now() - 60_000).toISOString()));
  const sam = await w.signIn(w.sam);
  const got = await view(sam, w.cid, sent.messageId);
  assert.equal(got.kind, 'failed');
  assert.equal(got.predatesDevice, true);
});
