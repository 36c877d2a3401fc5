// Signing in and staying signed in: new and resumed devices, clock skew, registration, token
// refresh, resume from a stored state, sign-out, panic, passphrase-sealed state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';

import { HavenClient, MemoryKeyStore, openState, sealState } from '../src/index.js';
import { until, world } from './support/world.js';

test('signing in again with the same keystore resumes the same device', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const keyStore = new MemoryKeyStore();
  const first = await w.signIn(w.sam, { keyStore, deviceName: 'Phone' });
  const stored = /** @type {any} */ (await keyStore.load());
  assert.equal(stored.version, 1);
  assert.equal(stored.deviceId, first.deviceId);
  assert.ok(stored.identitySeed && stored.kxPrivate && stored.refreshToken);
  const second = await w.signIn(w.sam, { keyStore });
  assert.equal(second.deviceId, first.deviceId);
  assert.equal(w.gw.activeDevices(w.sam.account_id).length, 1);
  assert.equal(w.gw.devices.get(first.deviceId).name, 'Phone');
});

test("a keystore holding another account's keys is refused", async (t) => {
  const w = await world();
  t.after(() => w.close());
  const keyStore = new MemoryKeyStore();
  await w.signIn(w.sam, { keyStore });
  await assert.rejects(w.signIn(w.kim, { keyStore }), { code: 'keystore_other_account' });
});

test('a clock far off is corrected from the clock_skew answer', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const client = await w.signIn(w.sam, { now: () => Date.now() + 3600_000 });
  assert.ok(client.deviceId);
  assert.equal(w.gw.log.filter((l) => l === 'POST /v1/sessions').length, 2);
});

test('wrong passwords and failed registrations leave the keystore without a session', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const keyStore = new MemoryKeyStore();
  await assert.rejects(w.signIn(w.sam, { keyStore, password: 'not it at all' }), { status: 401 });
  assert.equal(/** @type {any} */ (await keyStore.load()).refreshToken, null);
  const fresh = new MemoryKeyStore();
  const attempt = {
    baseUrl: w.gw.url,
    handle: 'alex',
    password: 'a long enough one',
    inviteCode: 'used-invite',
    keyStore: fresh,
  };
  await assert.rejects(HavenClient.register(attempt), { code: 'invite_invalid' });
  assert.equal(await fresh.load(), null);
  const client = await HavenClient.register({ ...attempt, inviteCode: 'good-invite', WebSocket });
  assert.equal(client.account.handle, 'alex');
});

test('access tokens are refreshed ahead of expiry and after a 401', async (t) => {
  const w = await world();
  t.after(() => w.close());
  w.gw.tokenLifetime = 2;
  const sam = await w.signIn(w.sam);
  await new Promise((resolve) => setTimeout(resolve, 1600)); // past three quarters of its life
  await sam.conversations();
  assert.equal(w.gw.log.filter((l) => l === 'POST /v1/sessions/refresh').length, 1);
  w.gw.access.clear(); // the server forgot every access token
  await sam.conversations();
  assert.equal(w.gw.log.filter((l) => l === 'POST /v1/sessions/refresh').length, 2);
});

test('a refresh the server refuses signs the client out', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const sam = await w.signIn(w.sam);
  /** @type {any[]} */
  const signedOut = [];
  sam.on('signed_out', (e) => signedOut.push(e));
  w.gw.access.clear();
  w.gw.refreshTokens.clear();
  await assert.rejects(sam.conversations(), { code: 'session_expired' });
  assert.equal(signedOut.length, 1);
});

test('resume continues a stored session; nothing stored resumes nothing', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const keyStore = new MemoryKeyStore();
  const first = await w.signIn(w.sam, { keyStore });
  const again = await HavenClient.resume({ baseUrl: w.gw.url, keyStore, WebSocket });
  assert.equal(again?.deviceId, first.deviceId);
  assert.equal((await again?.conversations())?.length, 1);
  assert.equal(
    await HavenClient.resume({ baseUrl: w.gw.url, keyStore: new MemoryKeyStore() }),
    null,
  );
  w.gw.refreshTokens.clear();
  assert.equal(await HavenClient.resume({ baseUrl: w.gw.url, keyStore }), null);
});

test('sign-out revokes the device whose keys it erases; panic revokes the device first', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const keyStore = new MemoryKeyStore();
  const sam = await w.signIn(w.sam, { keyStore });
  const signedOutId = sam.deviceId;
  await sam.signOut();
  assert.equal(await keyStore.load(), null);
  // Its keys are gone, so the device is revoked, not merely logged out.
  assert.equal(w.gw.log.at(-1), `DELETE /v1/devices/${signedOutId}`);
  assert.ok(w.gw.devices.get(signedOutId).revoked_at);
  const panicStore = new MemoryKeyStore();
  const again = await w.signIn(w.sam, { keyStore: panicStore });
  const id = again.deviceId;
  await again.panic();
  assert.ok(w.gw.devices.get(id).revoked_at);
  assert.equal(await panicStore.load(), null);
});

test('a live socket closed with 4403 (revoked elsewhere) signs the client out', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const sam = await w.signIn(w.sam);
  /** @type {any[]} */
  const signedOut = [];
  sam.on('signed_out', (e) => signedOut.push(e));
  sam.connect();
  await until(() => sam.connectionState === 'open');
  // The catch-up after `ready` is done: no HTTP call of it can meet the revocation first.
  await until(() => w.gw.log.some((line) => line.endsWith('/messages')));
  w.gw.revoke(sam.deviceId);
  await until(() => signedOut.length >= 1);
  assert.equal(signedOut.length, 1);
  assert.equal(signedOut[0].code, 4403);
  assert.equal(sam.connectionState, 'closed');
});

test('a state sealed with a passphrase opens with it and only with it', async () => {
  const cost = { opslimit: 1, memlimit: 8192 };
  const sealed = await sealState({ version: 1, secret: 'x' }, 'correct horse', cost);
  assert.equal(sealed.kdf.alg, 'argon2id');
  assert.deepEqual(await openState(sealed, 'correct horse'), { version: 1, secret: 'x' });
  await assert.rejects(openState(sealed, 'wrong horse'), { code: 'wrong_passphrase' });
});

test('frames that came before a final close are handled before signed_out', async (t) => {
  const w = await world();
  t.after(() => w.close());
  let slow = false;
  /** @type {typeof fetch} */
  const slowReads = async (input, init) => {
    if (slow && (init?.method ?? 'GET') === 'GET') await new Promise((r) => setTimeout(r, 300));
    return fetch(input, init);
  };
  const sam = await w.signIn(w.sam, { fetch: slowReads });
  /** @type {string[]} */
  const seen = [];
  sam.on('account', (e) => seen.push(`account:${e.event}`));
  sam.on('signed_out', (e) => seen.push(`signed_out:${e.code}`));
  sam.connect();
  await until(() => sam.connectionState === 'open');
  await until(() => w.gw.log.some((line) => line.endsWith('/messages')));
  const id = /** @type {string} */ (sam.deviceId);
  slow = true; // a catch-up still reading when the reset's frame and the close arrive
  w.gw.push(id, { type: 'resync' });
  w.gw.push(id, { type: 'account', event: 'password_reset' });
  await new Promise((r) => setTimeout(r, 50));
  w.gw.revoke(id);
  await until(() => seen.length === 2, 5000);
  assert.equal(seen[0], 'account:password_reset');
  assert.match(seen[1], /^signed_out:440[13]$/); // the close or the catch-up's refused refresh
});
