// Safety numbers as people use them: compare, verify, and a loud, blocking notice when a verified
// number changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { until, world } from './support/world.js';

test('both sides see the same 60 digits; typed digits verify with or without spaces', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const kim = await w.signIn(w.kim);
  const sam = await w.signIn(w.sam);
  const mine = await sam.safetyNumber(w.cid);
  const theirs = await kim.safetyNumber(w.cid);
  assert.match(String(mine.digits), /^\d{60}$/);
  assert.equal(mine.digits, theirs.digits);
  assert.equal(mine.groups.length, 12);
  assert.equal(mine.verified, false);
  const typo = mine.groups.join(' ').replace(/^\d/, (d) => String((Number(d) + 1) % 10));
  assert.deepEqual(await sam.verifySafetyNumber(w.cid, typo), { matches: false });
  assert.equal((await sam.safetyNumber(w.cid)).verified, false);
  assert.deepEqual(await sam.verifySafetyNumber(w.cid, mine.groups.join(' ')), { matches: true });
  assert.equal((await sam.safetyNumber(w.cid)).verified, true);
  assert.deepEqual(await kim.verifySafetyNumber(w.cid, String(theirs.digits)), { matches: true });
});

test('a verified contact signing in on a new device: loud event, sending held until acknowledged', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const kim = await w.signIn(w.kim);
  const sam = await w.signIn(w.sam);
  sam.connect();
  await until(() => sam.connectionState === 'open');
  const before = await sam.safetyNumber(w.cid);
  await sam.setVerified(w.cid, true);
  /** @type {any[]} */
  const changes = [];
  sam.on('safety_number_changed', (c) => changes.push(c));
  await w.signIn(w.kim); // Kim's new phone
  w.gw.push(/** @type {string} */ (sam.deviceId), {
    type: 'devices_changed',
    account_id: w.kim.account_id,
  });
  await until(() => changes.length === 1);
  assert.equal(changes[0].reason, 'safety_number_changed');
  assert.equal(changes[0].requiresAcknowledgement, true);
  assert.equal(changes[0].wasVerified, true);
  assert.equal(changes[0].previousSafetyNumber, before.digits);
  const now = await sam.safetyNumber(w.cid);
  assert.equal(now.changePending, true);
  assert.equal(now.verified, false);
  await assert.rejects(sam.send(w.cid, 'hello?', {}), { code: 'key_change_unacknowledged' });
  const { messages } = await sam.history(w.cid, { afterSeq: 0 });
  assert.equal(messages.length, 0);
  const fromKim = await kim.send(w.cid, 'it is me, new phone', {});
  const view = (await sam.history(w.cid, { afterSeq: 0 })).messages.find(
    (m) => m.messageId === fromKim.messageId,
  );
  assert.equal(view?.trust, 'key_changed');
  await sam.acknowledgeKeyChange(w.cid);
  assert.equal((await sam.send(w.cid, 'hello again', {})).state, 'sent');
  sam.disconnect();
});

test('an unverified contact changing devices is announced without holding anything', async (t) => {
  const w = await world();
  t.after(() => w.close());
  await w.signIn(w.kim);
  const sam = await w.signIn(w.sam);
  await sam.safetyNumber(w.cid);
  /** @type {any[]} */
  const changes = [];
  sam.on('safety_number_changed', (c) => changes.push(c));
  await w.signIn(w.kim);
  await sam.safetyNumber(w.cid);
  assert.equal(changes.length, 1);
  assert.equal(changes[0].requiresAcknowledgement, false);
  assert.equal((await sam.send(w.cid, 'fine', {})).state, 'sent');
});
