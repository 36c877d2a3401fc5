// History on a new device, as a companion app uses it: backup on, messages, a brand-new device
// restoring with the recovery key; refusals (wrong or mistyped key, tampered wrap, unsigned backup
// key); linking a second device and the checks the new device runs; account and expiry events.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { MemoryKeyStore, b64d, b64e, generateDeviceKeys } from '../src/index.js';
import { backupKeyPair } from '../src/backup.js';
import { randomBytes } from '../src/crypto.js';
import { sealLinkSecret } from '../src/link.js';
import { encodeRecoveryKey } from '../src/recovery-key.js';
import { flipFirstByte, until, world } from './support/world.js';

/** @param {import('../src/client.js').HavenClient} client @param {string} cid */
async function all(client, cid) {
  return (await client.history(cid, { afterSeq: 0, limit: 200 })).messages;
}

test('backup on, then a brand-new device reads every earlier message with the recovery key', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const kim = await w.signIn(w.kim);
  const phone = await w.signIn(w.sam);
  assert.deepEqual(await phone.backupStatus(), {
    enabled: false,
    backupId: null,
    createdAt: null,
    heldHere: false,
    readableHere: false,
  });
  const { recoveryKey, backupId } = await phone.enableBackup();
  assert.match(recoveryKey, /^([1-9A-HJ-NP-Za-km-z]{4} ){11}[1-9A-HJ-NP-Za-km-z]{4}$/);
  assert.equal((await phone.backupStatus()).heldHere, true);
  assert.deepEqual(
    (await phone.devices()).map((/** @type {any} */ d) => [d.device_id, d.current]),
    [[phone.deviceId, true]],
    'the backup entry of GET /v1/me is not a device',
  );
  const stored = /** @type {any} */ (await phone._device.keyStore.load());
  assert.equal(stored.backup.backupId, backupId);
  assert.ok(!JSON.stringify(stored).includes(recoveryKey.replaceAll(' ', '')));

  await kim.send(w.cid, 'How was your week?', {});
  await kim.send(w.cid, 'Call the line if tonight is hard', { urgent: true });
  await phone.send(w.cid, 'Better, thank you', {});
  for (const wire of w.gw.received) assert.ok(backupId in wire.keys, 'every send wraps for backup');

  const newStore = new MemoryKeyStore();
  const laptop = await w.signIn(w.sam, { keyStore: newStore });
  const before = await all(laptop, w.cid);
  assert.deepEqual(
    before.map((m) => [m.kind, m.predatesDevice]),
    [
      ['failed', true],
      ['failed', true],
      ['failed', true],
    ],
  );

  // Mistyped, or a real recovery key of someone else: refused calmly, nothing kept or opened.
  const typo = recoveryKey.slice(0, -1); // the last character left out
  await assert.rejects(laptop.restoreHistory(typo), {
    code: 'recovery_key_malformed',
    message: 'That recovery key doesn’t look right — check for a typo',
  });
  await assert.rejects(laptop.restoreHistory(encodeRecoveryKey(randomBytes(32))), {
    code: 'recovery_key_wrong',
  });
  assert.equal((await all(laptop, w.cid)).filter((m) => m.kind === 'message').length, 0);
  assert.equal(/** @type {any} */ (await newStore.load()).backup, null);

  const summary = await laptop.restoreHistory(recoveryKey.replaceAll(' ', '\n'));
  assert.deepEqual(summary, { conversations: 1, opened: 3, unreadable: 0 });
  const after = await all(laptop, w.cid);
  assert.deepEqual(
    after.map((m) => [m.body, m.urgent, m.outgoing]),
    [
      ['How was your week?', false, false],
      ['Call the line if tonight is hard', true, false],
      ['Better, thank you', false, true],
    ],
  );
  // Kept nothing of the recovery key: no backup secret, only the content keys of what it opened.
  const kept = /** @type {any} */ (await newStore.load());
  assert.equal(kept.backup, null);
  assert.equal(Object.keys(kept.restoredKeys[w.cid]).length, 3);
  assert.ok(!JSON.stringify(kept).includes(recoveryKey.replaceAll(' ', '')));
  const status = await laptop.backupStatus();
  assert.equal(status.heldHere, false);
  assert.equal(status.readableHere, true); // in memory, for as long as this client lives

  // The same keystore resumed later (a reload): the restored messages still open, every check run.
  const { HavenClient } = await import('../src/index.js');
  const resumed = await HavenClient.resume({ baseUrl: w.gw.url, keyStore: newStore });
  assert.ok(resumed);
  w.clients.push(resumed);
  assert.deepEqual(
    (await all(resumed, w.cid)).map((m) => m.body),
    ['How was your week?', 'Call the line if tonight is hard', 'Better, thank you'],
  );
  assert.equal((await resumed.backupStatus()).readableHere, false);

  // Asked to keep it: the secret (never the text) is stored, and survives a resume.
  const keepStore = new MemoryKeyStore();
  const tablet = await w.signIn(w.sam, { keyStore: keepStore });
  await tablet.restoreHistory(recoveryKey, { keep: true });
  assert.equal(/** @type {any} */ (await keepStore.load()).backup.backupId, backupId);
  assert.equal((await tablet.backupStatus()).heldHere, true);
});

test('a recovery key chosen first and confirmed is the one published', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const phone = await w.signIn(w.sam);
  const { newRecoveryKey } = await import('../src/index.js');
  const text = newRecoveryKey();
  const { recoveryKey, backupId } = await phone.enableBackup(text);
  assert.equal(recoveryKey, text);
  const pair = await backupKeyPair(
    (await import('../src/recovery-key.js')).decodeRecoveryKey(text),
  );
  assert.equal(w.gw.accounts.get(w.sam.account_id).backup.kx_key, b64e(pair.publicKey));
  assert.equal((await phone.backupStatus()).backupId, backupId);
  await assert.rejects(phone.enableBackup('not a key'), { code: 'recovery_key_malformed' });
  await phone.disableBackup();
  assert.equal((await phone.backupStatus()).enabled, false);
  assert.equal(/** @type {any} */ (phone._device.state).backup, null);
});

test('a tampered wrap for the backup key is a hard failure for that message, never text', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const kim = await w.signIn(w.kim);
  const phone = await w.signIn(w.sam);
  const { recoveryKey, backupId } = await phone.enableBackup();
  const fine = await kim.send(w.cid, 'kept safe', {});
  const bad = await kim.send(w.cid, 'tampered on the server', {});
  const stored = w.gw.messages.get(w.cid)?.find((m) => m.message_id === bad.messageId);
  stored.envelope = {
    ...stored.envelope,
    keys: { ...stored.envelope.keys, [backupId]: flipFirstByte(stored.envelope.keys[backupId]) },
  };
  const laptop = await w.signIn(w.sam, { keyStore: new MemoryKeyStore() });
  assert.deepEqual(await laptop.restoreHistory(recoveryKey), {
    conversations: 1,
    opened: 1,
    unreadable: 1,
  });
  const got = await all(laptop, w.cid);
  assert.equal(got.find((m) => m.messageId === fine.messageId)?.body, 'kept safe');
  const failed = got.find((m) => m.messageId === bad.messageId);
  const restored = /** @type {any} */ (laptop._device.state).restoredKeys[w.cid];
  assert.deepEqual(Object.keys(restored), [fine.messageId], 'no key kept for what failed');
  // A kept content key is checked in full each time: a message changed since fails hard.
  const kept = w.gw.messages.get(w.cid)?.find((m) => m.message_id === fine.messageId);
  kept.envelope = { ...kept.envelope, ciphertext: flipFirstByte(kept.envelope.ciphertext) };
  const again = (await all(laptop, w.cid)).find((m) => m.messageId === fine.messageId);
  assert.equal(again?.kind, 'failed');
  assert.equal(again?.body, undefined);
  assert.equal(failed?.kind, 'failed');
  assert.equal(failed?.predatesDevice, false);
  assert.equal(failed?.body, undefined);
});

test('a backup key no device of the account signed: the send is refused, receiving goes on', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const kim = await w.signIn(w.kim);
  const sam = await w.signIn(w.sam);
  const pair = await backupKeyPair(randomBytes(32));
  const stranger = generateDeviceKeys();
  const { signBackupKey } = await import('../src/backup.js');
  w.gw.accounts.get(w.sam.account_id).backup = {
    backup_id: 'bkp_planted',
    kx_key: b64e(pair.publicKey),
    signatures: {
      dev_unknown: b64e(signBackupKey(stranger.identitySecret, 'sam', pair.publicKey)),
    },
    created_at: new Date().toISOString(),
  };
  /** @type {any[]} */
  const states = [];
  kim.on('send_state', (s) => states.push(s));
  await assert.rejects(kim.send(w.cid, 'hello', {}), (/** @type {any} */ error) => {
    assert.equal(error.code, 'backup_untrusted');
    assert.equal(error.draft, 'hello');
    return true;
  });
  assert.equal(states.at(-1).state, 'failed');
  assert.equal(w.gw.received.length, 0, 'nothing was sent for the planted key');
  // Sam's own sends are refused the same way; Kim's messages to Sam still open for Sam.
  await assert.rejects(sam.send(w.cid, 'hi', {}), { code: 'backup_untrusted' });
  // Signed, but by a device of another account (Kim's, under Sam's handle): still untrusted.
  const kimKeys = (await import('../src/session.js')).deviceKeys(kim._device.state);
  assert.ok(kimKeys);
  w.gw.accounts.get(w.sam.account_id).backup.signatures = {
    [/** @type {string} */ (kim.deviceId)]: b64e(
      signBackupKey(kimKeys.identitySecret, 'sam', pair.publicKey),
    ),
  };
  kim._directory.invalidate();
  await assert.rejects(kim.send(w.cid, 'hello again', {}), { code: 'backup_untrusted' });
  delete w.gw.accounts.get(w.sam.account_id).backup;
  kim._directory.invalidate();
  const sent = await kim.send(w.cid, 'now it goes', {});
  const got = (await all(sam, w.cid)).find((m) => m.messageId === sent.messageId);
  assert.equal(got?.body, 'now it goes');
});

test('linking: both show the same code; the approved device reads the history', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const kim = await w.signIn(w.kim);
  const phone = await w.signIn(w.sam);
  await phone.enableBackup();
  const earlier = await kim.send(w.cid, 'from before the laptop', {});
  const laptop = await w.signIn(w.sam, { keyStore: new MemoryKeyStore() });
  /** @type {any[]} */
  const linked = [];
  laptop.on('linked', (e) => linked.push(e));
  laptop.connect();
  await until(() => laptop.connectionState === 'open');

  const codes = await laptop.linkCodes();
  assert.equal(codes.length, 1);
  assert.equal(codes[0].deviceId, phone.deviceId);
  assert.match(codes[0].code, /^\d{4} \d{4} \d{4}$/);
  const shown = await phone.linkCodeFor(/** @type {string} */ (laptop.deviceId));
  assert.equal(shown.code, codes[0].code);

  assert.deepEqual(await phone.approveDevice(/** @type {string} */ (laptop.deviceId)), {
    withHistory: true,
  });
  await until(() => linked.length === 1);
  assert.deepEqual(linked[0], { senderDeviceId: phone.deviceId, withHistory: true });
  const got = (await all(laptop, w.cid)).find((m) => m.messageId === earlier.messageId);
  assert.equal(got?.body, 'from before the laptop');
  assert.equal((await laptop.backupStatus()).heldHere, true);
  assert.equal(w.gw.acked.length, 1, 'the link is acknowledged once stored');
  assert.deepEqual(w.gw.links.get(/** @type {string} */ (laptop.deviceId)), []);
  laptop.disconnect();
});

test('the same backup key published again under a new id still opens, for kept and restored secrets', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const kim = await w.signIn(w.kim);
  const phone = await w.signIn(w.sam);
  const { recoveryKey, backupId } = await phone.enableBackup();
  const laptop = await w.signIn(w.sam, { keyStore: new MemoryKeyStore() });
  await laptop.restoreHistory(recoveryKey); // in memory only
  const first = w.gw.accounts.get(w.sam.account_id).backup;
  await phone.api.setBackup({ kx_key: first.kx_key, signatures: first.signatures });
  const again = w.gw.accounts.get(w.sam.account_id).backup;
  assert.notEqual(again.backup_id, backupId);
  assert.deepEqual(again.earlier_backup_ids, [backupId]);
  kim._directory.invalidate();
  const sent = await kim.send(w.cid, 'under the new id', {});
  assert.ok(again.backup_id in /** @type {any} */ (w.gw.received.at(-1)).keys);
  await phone.backupStatus();
  await laptop.backupStatus();
  const viaRestore = (await all(laptop, w.cid)).find((m) => m.messageId === sent.messageId);
  assert.equal(viaRestore?.body, 'under the new id');
  const stored = /** @type {any} */ (phone._device.state).backup;
  assert.equal(stored.backupId, again.backup_id);
  assert.deepEqual(stored.earlierIds, [backupId]);
});

test('linking refuses: another account’s device, a forged or mismatched transfer, a missing secret', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const kim = await w.signIn(w.kim);
  const phone = await w.signIn(w.sam);
  await assert.rejects(phone.approveDevice(/** @type {string} */ (kim.deviceId)), {
    code: 'not_own_device',
  });
  // Without a backup: the new device is told plainly it will read new messages only.
  const laptop = await w.signIn(w.sam, { keyStore: new MemoryKeyStore() });
  assert.deepEqual(await phone.approveDevice(/** @type {string} */ (laptop.deviceId)), {
    withHistory: false,
  });
  assert.deepEqual(await laptop.checkLinks(), { withHistory: false });

  await phone.enableBackup();
  /** @type {any[]} */
  const refused = [];
  laptop.on('link_refused', (e) => refused.push(e));
  const laptopKx = laptop._device.state.kxPrivate;
  assert.ok(laptopKx);
  const laptopPublic = (await import('../src/session.js')).deviceKeys(
    laptop._device.state,
  )?.kxPublic;
  assert.ok(laptopPublic);
  const kimKeys = (await import('../src/session.js')).deviceKeys(kim._device.state);
  assert.ok(kimKeys);
  const otherSecret = (await backupKeyPair(randomBytes(32))).secret;
  const forged = (
    /** @type {string} */ sender,
    /** @type {Uint8Array} */ kx,
    secret = otherSecret,
  ) => ({
    sender_device_id: sender,
    ciphertext: sealLinkSecret(
      { backupId: 'bkp_x', backupSecret: secret },
      kx,
      /** @type {Uint8Array} */ (laptopPublic),
    ),
  });
  const phoneKeys = (await import('../src/session.js')).deviceKeys(phone._device.state);
  assert.ok(phoneKeys);
  w.gw.links.set(/** @type {string} */ (laptop.deviceId), [
    forged(/** @type {string} */ (kim.deviceId), kimKeys.kxPrivate), // another account's device
    forged(/** @type {string} */ (phone.deviceId), kimKeys.kxPrivate), // not sealed by the phone
    forged(/** @type {string} */ (phone.deviceId), phoneKeys.kxPrivate), // not the published key
    // the published key's secret, under an id it never had
    forged(
      /** @type {string} */ (phone.deviceId),
      phoneKeys.kxPrivate,
      b64d(/** @type {any} */ (phone._device.state).backup.secret),
    ),
  ]);
  assert.equal(await laptop.checkLinks(), null);
  assert.deepEqual(
    refused.map((r) => r.reason),
    ['not_own_device', 'link_unopenable', 'link_backup_mismatch', 'link_backup_mismatch'],
  );
  assert.equal(/** @type {any} */ (laptop._device.state).backup, null);

  // A device that holds no backup secret (linked before backup was on) cannot hand one on.
  const tablet = await w.signIn(w.sam, { keyStore: new MemoryKeyStore() });
  await assert.rejects(laptop.approveDevice(/** @type {string} */ (tablet.deviceId)), {
    code: 'backup_not_held',
  });
});

test('password reset and expiry warnings arrive as events', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const sam = await w.signIn(w.sam);
  /** @type {any[]} */
  const seen = [];
  sam.on('account', (e) => seen.push(['account', e]));
  sam.on('device_expiring', (e) => seen.push(['device_expiring', e]));
  sam.connect();
  await until(() => sam.connectionState === 'open');
  const id = /** @type {string} */ (sam.deviceId);
  w.gw.push(id, { type: 'account', event: 'password_reset' });
  w.gw.push(id, { type: 'device_expiring', device_id: id, expires_at: '2027-01-01T00:00:00Z' });
  await until(() => seen.length === 2);
  assert.deepEqual(seen, [
    ['account', { event: 'password_reset', accountId: null }],
    ['device_expiring', { deviceId: id, expiresAt: '2027-01-01T00:00:00Z' }],
  ]);
  sam.disconnect();
});
