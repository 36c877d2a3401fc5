// Sending: the outbox on 429 with Retry-After pacing, a counterpart with no device, refusals that
// keep the text, device_mismatch re-sealing, a lost network.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { until, world } from './support/world.js';

/** @param {import('../src/index.js').HavenClient} client */
function states(client) {
  /** @type {any[]} */
  const seen = [];
  client.on('send_state', (s) => seen.push(s));
  return seen;
}

test('a 429 queues the message and sends the same envelope once Retry-After has passed', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const kim = await w.signIn(w.kim);
  const seen = states(kim);
  w.gw.forcedSends.push({ status: 429, body: { code: 'rate_limited' }, retryAfter: 1 });
  const started = Date.now();
  const result = await kim.send(w.cid, 'soon', {});
  assert.equal(result.state, 'queued');
  assert.ok(result.retryAt !== null && result.retryAt >= started + 1000);
  await until(() => seen.some((s) => s.state === 'sent'), 5000);
  assert.ok(Date.now() - started >= 1000, 'not sent before Retry-After');
  assert.deepEqual(
    seen.map((s) => s.state),
    ['sending', 'queued', 'sent'],
  );
  const tries = w.gw.received.filter((e) => e.message_id === result.messageId);
  assert.equal(tries.length, 2);
  assert.deepEqual(tries[0], tries[1], 'the very same envelope is sent again');
  assert.equal(w.gw.messages.get(w.cid)?.length, 1);
});

test('after a 429 a burst is paced from Retry-After, so the socket is never closed with 4429', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const kim = await w.signIn(w.kim);
  kim.connect();
  await until(() => kim.connectionState === 'open');
  const seen = states(kim);
  /** @type {any[]} */
  const connection = [];
  kim.on('connection', (c) => connection.push(c));
  // The gateway's bucket: bursts of 2, then one message every 2 s; Retry-After in whole seconds
  // says when the next one may go, which can be less than the refill interval.
  w.gw.sendBudget = { perSecond: 0.5, burst: 2, tokens: 2, at: Date.now() };
  const results = [await kim.send(w.cid, 'one', {}), await kim.send(w.cid, 'two', {})];
  await new Promise((resolve) => setTimeout(resolve, 1200)); // part of a message's budget back
  const texts = ['three', 'four', 'five', 'six', 'seven', 'eight'];
  for (const text of texts) results.push(await kim.send(w.cid, text, {}));
  assert.deepEqual(
    results.map((r) => r.state),
    ['sent', 'sent', 'queued', 'queued', 'queued', 'queued', 'queued', 'queued'],
  );
  assert.equal(w.gw.received.length, 3, 'nothing else reaches the server while it said "later"');
  await until(() => seen.filter((s) => s.state === 'sent').length === results.length, 30_000);
  const stored = w.gw.messages.get(w.cid)?.map((m) => m.message_id);
  assert.deepEqual(
    stored,
    results.map((r) => r.messageId),
    'order kept',
  );
  assert.ok(
    w.gw.refusedForRate <= 2,
    `refused ${w.gw.refusedForRate} times (the gateway closes at 5)`,
  );
  assert.deepEqual(connection, [], 'the socket stayed open');
});

test('a counterpart with no active device is not an error: sealed for the devices that exist', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const kim = await w.signIn(w.kim);
  const sam = await w.signIn(w.sam);
  w.gw.revoke(/** @type {string} */ (sam.deviceId)); // e.g. Sam's panic
  const result = await kim.send(w.cid, 'Still here when you are back', {});
  assert.equal(result.state, 'sent');
  assert.equal(result.counterpartOffline, true);
  assert.deepEqual(Object.keys(w.gw.received.at(-1).keys), [kim.deviceId]);
  const number = await kim.safetyNumber(w.cid);
  assert.equal(number.digits, null);
});

test('a refused send rejects with the code and keeps the text; urgent refusals carry crisis resources', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const sam = await w.signIn(w.sam);
  await w.signIn(w.kim);
  const seen = states(sam);
  w.gw.conversations.get(w.cid).status = 'paused';
  await assert.rejects(sam.send(w.cid, 'I need help', { urgent: true }), (error) => {
    const e = /** @type {any} */ (error);
    assert.equal(e.code, 'paused');
    assert.equal(e.draft, 'I need help');
    assert.equal(e.body.reason, 'Away');
    assert.equal(e.crisisResources[0].name, 'Helpline');
    return true;
  });
  const failed = seen.find((s) => s.state === 'failed');
  assert.equal(failed.code, 'paused');
  assert.equal(failed.text, 'I need help');
  assert.equal(failed.crisisResources.length, 1);
  assert.equal(w.gw.messages.get(w.cid)?.length, 0);
});

test('an urgent send answers with crisis resources, cached for offline use', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const sam = await w.signIn(w.sam);
  await w.signIn(w.kim);
  w.gw.crisis = [{ name: 'Night line', contact: '0800 111', description: '', region: 'XX' }];
  const result = await sam.send(w.cid, 'now please', { urgent: true });
  assert.equal(result.crisisResources[0].name, 'Night line');
  assert.equal((await sam.crisisResources())[0].name, 'Night line');
  assert.equal(w.gw.messages.get(w.cid)?.[0].urgent, true);
});

test('device_mismatch refreshes the device lists and re-seals once', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const kim = await w.signIn(w.kim);
  await w.signIn(w.sam);
  await kim.send(w.cid, 'first', {}); // Kim now holds Sam's device list
  const samLaptop = await w.signIn(w.sam);
  /** @type {any[]} */
  const changes = [];
  kim.on('safety_number_changed', (c) => changes.push(c));
  const result = await kim.send(w.cid, 'second', {});
  assert.equal(result.state, 'sent');
  assert.ok(
    Object.keys(w.gw.received.at(-1).keys).includes(/** @type {string} */ (samLaptop.deviceId)),
  );
  assert.equal(w.gw.received.length, 3, 'one refused try, one re-sealed');
  assert.equal(changes.length, 1, 'the new device changed the safety number');
  const { messages } = await samLaptop.history(w.cid, { afterSeq: 0 });
  assert.equal(messages.at(-1)?.body, 'second');
});

test('a lost network queues the message and sends it when the network is back', async (t) => {
  const w = await world();
  t.after(() => w.close());
  let offline = false;
  /** @type {typeof fetch} */
  const flaky = (input, init) => {
    if (offline && init?.method === 'POST') return Promise.reject(new TypeError('fetch failed'));
    return fetch(input, init);
  };
  const kim = await w.signIn(w.kim, { fetch: flaky });
  await w.signIn(w.sam);
  const seen = states(kim);
  offline = true;
  const result = await kim.send(w.cid, 'through the tunnel', {});
  assert.equal(result.state, 'queued');
  offline = false;
  await until(() => seen.some((s) => s.state === 'sent'), 5000);
  assert.equal(w.gw.messages.get(w.cid)?.length, 1);
});

test('sends started together are stored in the order they were asked for', async (t) => {
  const w = await world();
  t.after(() => w.close());
  let slowNext = false;
  /** @type {typeof fetch} */
  const slowFirstLookup = async (input, init) => {
    if (slowNext && (init?.method ?? 'GET') === 'GET') {
      slowNext = false; // the first send's device lookup is slow; the second's is not
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    return fetch(input, init);
  };
  const kim = await w.signIn(w.kim, { fetch: slowFirstLookup });
  await w.signIn(w.sam);
  slowNext = true;
  const results = await Promise.all([
    kim.send(w.cid, 'first', {}),
    kim.send(w.cid, 'second', {}),
    kim.send(w.cid, 'third', {}),
  ]);
  assert.deepEqual(
    results.map((r) => r.state),
    ['sent', 'sent', 'sent'],
  );
  assert.deepEqual(
    w.gw.messages.get(w.cid)?.map((m) => m.message_id),
    results.map((r) => r.messageId),
  );
});
