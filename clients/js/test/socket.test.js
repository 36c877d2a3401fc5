// The live connection: catch-up after `ready`, acks after the app handled a message, dedupe, seq
// order across a gap, close codes, re-auth with fresh tokens, sends over the socket, notices.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { until, world } from './support/world.js';

/** @param {import('../src/index.js').HavenClient} client @param {string} name */
function collect(client, name) {
  /** @type {any[]} */
  const seen = [];
  client.on(name, (e) => seen.push(e));
  return seen;
}

/** @param {import('../src/index.js').HavenClient} client */
async function connected(client) {
  client.connect();
  await until(() => client.connectionState === 'open');
}

test('after ready the client catches up on what was sent while it was away, in seq order', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const kim = await w.signIn(w.kim);
  const sam = await w.signIn(w.sam);
  await connected(sam);
  await sam.sync();
  sam.disconnect();
  for (const text of ['one', 'two', 'three']) await kim.send(w.cid, text, {});
  const messages = collect(sam, 'message');
  const states = collect(sam, 'connection');
  await connected(sam);
  t.after(() => sam.disconnect());
  await until(() => messages.length === 3);
  assert.deepEqual(
    messages.map((m) => m.body),
    ['one', 'two', 'three'],
  );
  assert.deepEqual(
    messages.map((m) => m.seq),
    [1, 2, 3],
  );
  assert.deepEqual(
    states.map((s) => s.state),
    ['connecting', 'open'],
  );
});

test('a pushed message is acked only after the handlers ran, and a duplicate is not shown twice', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const kim = await w.signIn(w.kim);
  const sam = await w.signIn(w.sam);
  await connected(sam);
  t.after(() => sam.disconnect());
  /** @type {string[]} */
  const order = [];
  sam.on('message', async (m) => {
    await new Promise((resolve) => setTimeout(resolve, 100));
    order.push(`handled ${m.messageId}`);
  });
  const sent = await kim.send(w.cid, 'live', {});
  await until(() => w.gw.acks.includes(sent.messageId));
  assert.deepEqual(order, [`handled ${sent.messageId}`]);
  const item = w.gw.messages.get(w.cid)?.at(-1);
  w.gw.push(/** @type {string} */ (sam.deviceId), { type: 'message', message: item });
  await until(() => w.gw.acks.filter((id) => id === sent.messageId).length === 2);
  assert.equal(order.length, 1, 'a redelivery is acked but not shown again');
});

test('a message pushed ahead of a gap waits for the gap to be fetched first', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const kim = await w.signIn(w.kim);
  const sam = await w.signIn(w.sam);
  await connected(sam);
  t.after(() => sam.disconnect());
  await sam.sync();
  const messages = collect(sam, 'message');
  w.gw.pushOnSend = false; // the first delivery is still on its way
  await kim.send(w.cid, 'first', {});
  await kim.send(w.cid, 'second', {});
  const second = w.gw.messages.get(w.cid)?.at(-1);
  w.gw.push(/** @type {string} */ (sam.deviceId), { type: 'message', message: second });
  await until(() => messages.length >= 2);
  assert.deepEqual(
    messages.map((m) => m.body),
    ['first', 'second'],
  );
});

test('4401 refreshes and reconnects; 4409 (a newer socket) closes for good', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const sam = await w.signIn(w.sam);
  const states = collect(sam, 'connection');
  await connected(sam);
  const [ws] = [...w.gw.sockets.keys()];
  ws.close(4401, 'expired');
  await until(() => states.filter((s) => s.state === 'open').length === 2);
  assert.ok(w.gw.log.includes('POST /v1/sessions/refresh'));
  assert.ok(states.some((s) => s.state === 'reconnecting' && s.code === 4401));
  const [current] = [...w.gw.sockets.keys()];
  current.close(4409, 'replaced');
  await until(() => sam.connectionState === 'closed');
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(w.gw.sockets.size, 0, 'no reconnect after 4409');
  assert.equal(states.at(-1).code, 4409);
});

test('other closes reconnect with back-off and catch up', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const kim = await w.signIn(w.kim);
  const sam = await w.signIn(w.sam);
  await connected(sam);
  t.after(() => sam.disconnect());
  await sam.sync();
  const messages = collect(sam, 'message');
  for (const ws of w.gw.sockets.keys()) ws.close(1012, 'restarting');
  await kim.send(w.cid, 'while you were reconnecting', {});
  await until(() => messages.length === 1);
  assert.equal(messages[0].body, 'while you were reconnecting');
});

test('a fresh access token reaches the open socket as an auth frame', async (t) => {
  const w = await world();
  t.after(() => w.close());
  w.gw.tokenLifetime = 2;
  const sam = await w.signIn(w.sam);
  await connected(sam);
  t.after(() => sam.disconnect());
  const [info] = [...w.gw.sockets.values()];
  await until(() => /** @type {any} */ (info).auths >= 2, 4000);
});

test('sends go over the socket when it is open, and a rate-limited error frame queues them', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const kim = await w.signIn(w.kim);
  await w.signIn(w.sam);
  await connected(kim);
  t.after(() => kim.disconnect());
  const states = collect(kim, 'send_state');
  const direct = await kim.send(w.cid, 'over the socket', {});
  assert.equal(direct.state, 'sent');
  assert.ok(!w.gw.log.includes(`POST /v1/conversations/${w.cid}/messages`));
  w.gw.forcedSends.push({ status: 429, body: { code: 'rate_limited' }, retryAfter: 1 });
  const later = await kim.send(w.cid, 'in a moment', {});
  assert.equal(later.state, 'queued');
  await until(() => states.filter((s) => s.state === 'sent').length === 2, 5000);
});

test('notices arrive as camelCase events; a relationship change updates the own record', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const sam = await w.signIn(w.sam);
  await connected(sam);
  t.after(() => sam.disconnect());
  const got = {
    relationship: collect(sam, 'relationship'),
    read: collect(sam, 'read'),
    retention: collect(sam, 'retention'),
    away: collect(sam, 'coach_away'),
    deleted: collect(sam, 'message_deleted'),
    rejected: collect(sam, 'message_rejected'),
    devices: collect(sam, 'devices_changed'),
  };
  const id = /** @type {string} */ (sam.deviceId);
  const cid = w.cid;
  w.gw.push(id, {
    type: 'relationship',
    conversation_id: cid,
    status: 'paused',
    reason: 'Holiday',
    resume_on: '2026-12-01',
  });
  w.gw.push(id, { type: 'read', conversation_id: cid, account_id: w.kim.account_id, up_to_seq: 4 });
  w.gw.push(id, { type: 'retention', conversation_id: cid, retention_days: 7 });
  w.gw.push(id, {
    type: 'coach_away',
    conversation_id: cid,
    away_message: 'Back Monday',
    response_time_hours: 24,
    next_available_at: null,
  });
  w.gw.push(id, { type: 'message_deleted', conversation_id: cid, message_id: 'm1', seq: 3 });
  w.gw.push(id, {
    type: 'message_rejected',
    conversation_id: cid,
    message_id: 'm2',
    code: 'conflict',
    detail: 'x',
  });
  w.gw.push(id, { type: 'devices_changed', account_id: w.kim.account_id });
  await until(() => got.devices.length === 1);
  assert.deepEqual(got.relationship[0], {
    conversationId: cid,
    status: 'paused',
    reason: 'Holiday',
    resumeOn: '2026-12-01',
  });
  assert.deepEqual(got.read[0], { conversationId: cid, accountId: w.kim.account_id, upToSeq: 4 });
  assert.equal(got.retention[0].retentionDays, 7);
  assert.equal(got.away[0].awayMessage, 'Back Monday');
  assert.equal(
    got.away[0].crisisResources[0].name,
    'Helpline',
    'coach_away carries the crisis resources',
  );
  assert.equal(got.deleted[0].messageId, 'm1');
  assert.equal(got.rejected[0].code, 'conflict');
  const conversations = await sam.conversations();
  assert.equal(conversations[0].counterpart.handle, 'kim');
});
