// kx rotation on a schedule: old private keys open what was sealed to them, and go once no kept
// message can need them.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { MemoryKeyStore } from '../src/index.js';
import { world } from './support/world.js';

const DAY = 24 * 3600_000;

test('a kx key younger than the interval is kept; an older one is rotated and the old one still opens', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const keyStore = new MemoryKeyStore();
  const sam = await w.signIn(w.sam, { keyStore });
  const kim = await w.signIn(w.kim);
  const before = w.gw.devices.get(sam.deviceId).kx_key;
  assert.equal(await sam.rotateKxIfDue(Date.now()), false);
  assert.equal(w.gw.devices.get(sam.deviceId).kx_key, before);

  const early = await kim.send(w.cid, 'sealed to your old key', {});
  assert.equal(await sam.rotateKxIfDue(Date.now() + 8 * DAY), true);
  const after = w.gw.devices.get(sam.deviceId).kx_key;
  assert.notEqual(after, before);
  const state = /** @type {any} */ (await keyStore.load());
  assert.equal(state.oldKx.length, 1);
  // Kim still holds Sam's old listing (cached): sealed to the old key, after the rotation.
  const cached = await kim.send(w.cid, 'sealed to your old key, after the rotation', {});
  const { messages } = await sam.history(w.cid, { afterSeq: 0 });
  assert.deepEqual(
    messages.map((m) => m.kind),
    ['message', 'message'],
  );
  assert.deepEqual(
    messages.map((m) => m.messageId),
    [early.messageId, cached.messageId],
  );
  const fresh = await w.signIn(w.kim); // a listing fetched now shows the new key
  await fresh.send(w.cid, 'to your new key', {});
  assert.equal(w.gw.received.at(-1).keys[sam.deviceId] !== undefined, true);
  const page = await sam.history(w.cid, { afterSeq: 2 });
  assert.equal(page.messages[0].body, 'to your new key');
  const own = await sam.send(w.cid, 'my own after rotating', {});
  assert.equal(own.state, 'sent');
});

test('old kx keys are dropped once retention has removed every message sealed to them', async (t) => {
  const w = await world();
  t.after(() => w.close());
  w.gw.conversations.get(w.cid).retention_days = 30;
  const keyStore = new MemoryKeyStore();
  const sam = await w.signIn(w.sam, { keyStore });
  const start = Date.now() + 8 * DAY;
  assert.equal(await sam.rotateKxIfDue(start), true);
  const load = async () => /** @type {any} */ (await keyStore.load()).oldKx.length;
  assert.equal(await sam.rotateKxIfDue(start + 2 * DAY), false);
  assert.equal(await load(), 1, 'kept while a 30-day-old message may still need it');
  assert.equal(await sam.rotateKxIfDue(start + 32 * DAY, { intervalMs: 365 * DAY }), false);
  assert.equal(await load(), 0, 'gone after retention plus a day of grace');
});

test('while a conversation keeps messages forever, old kx keys are kept', async (t) => {
  const w = await world();
  t.after(() => w.close());
  w.gw.conversations.get(w.cid).retention_days = null;
  const keyStore = new MemoryKeyStore();
  const sam = await w.signIn(w.sam, { keyStore });
  const start = Date.now() + 8 * DAY;
  await sam.rotateKxIfDue(start);
  await sam.rotateKxIfDue(start + 400 * DAY, { intervalMs: 1000 * DAY });
  assert.equal(/** @type {any} */ (await keyStore.load()).oldKx.length, 1);
});

test('a refused rotation rolls back to the key the server still lists', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const keyStore = new MemoryKeyStore();
  const sam = await w.signIn(w.sam, { keyStore });
  await w.signIn(w.kim);
  const before = /** @type {any} */ (await keyStore.load()).kxPrivate;
  w.gw.refuseKx = true;
  await assert.rejects(sam.rotateKxIfDue(Date.now() + 8 * DAY), { code: 'rate_limited' });
  const state = /** @type {any} */ (await keyStore.load());
  assert.equal(state.kxPrivate, before);
  assert.equal(state.oldKx.length, 0);
  assert.equal((await sam.send(w.cid, 'still works', {})).state, 'sent');
});
