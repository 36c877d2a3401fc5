// Reproduces tests/vectors/backup.json byte for byte: recovery keys (text, parsing, refusals), the
// backup key pair, backup signatures, link codes, link transfers and a message opened by the backup key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

import {
  deviceKeysFromSecrets,
  envelopeFromWire,
  envelopeToWire,
  openEnvelope,
  seal,
  signatureInput,
  sodiumReady,
} from '../src/index.js';
import { backupSignatureInput, boxWrap } from '../src/crypto.js';
import { fromHex, toHex } from '../src/encoding.js';
import {
  backupKeyPair,
  backupKeyPairFromSeed,
  backupKeySigned,
  backupPublicOf,
  backupSeed,
  signBackupKey,
} from '../src/backup.js';
import {
  RecoveryKeyMalformed,
  base58Decode,
  decodeRecoveryKey,
  encodeRecoveryKey,
} from '../src/recovery-key.js';
import { linkCode, linkPlaintext, openLinkSecret, sealLinkSecret } from '../src/link.js';
import { b64d, b64e } from '../src/encoding.js';

const vectors = JSON.parse(
  await readFile(new URL('../../../tests/vectors/backup.json', import.meta.url), 'utf8'),
);
await sodiumReady();

/** @param {string} deviceId */
function device(deviceId) {
  const all = [...vectors.devices, vectors.counterpart_device];
  const found = all.find((/** @type {any} */ d) => d.device_id === deviceId);
  assert.ok(found, deviceId);
  return found;
}

/** @param {any} d */
const keysOf = (d) =>
  deviceKeysFromSecrets(fromHex(d.identity_seed_hex), fromHex(d.kx_private_hex));

const rkOne = vectors.recovery_keys[0];

test('the vector file is the backup one and has every section', () => {
  assert.equal(vectors.format, 'haven backup v1');
  assert.ok(vectors.recovery_keys.length >= 3);
  assert.ok(vectors.invalid_recovery_keys.length >= 5);
  assert.ok(vectors.link_codes.length >= 2);
  assert.ok(vectors.link_transfers.length >= 2);
});

for (const v of vectors.devices) {
  test(`device ${v.device_id}: keys from the seeds`, () => {
    const keys = keysOf(v);
    assert.equal(toHex(keys.identityPublic), v.identity_public_hex);
    assert.equal(toHex(keys.kxPublic), v.kx_public_hex);
  });
}

for (const v of vectors.recovery_keys) {
  test(`recovery key "${v.name}": text, raw bytes, seed and key pair`, async () => {
    const rk = fromHex(v.rk_hex);
    assert.equal(encodeRecoveryKey(rk), v.text);
    assert.equal(
      toHex(/** @type {Uint8Array} */ (base58Decode(v.text.replaceAll(' ', '')))),
      v.raw_hex,
    );
    assert.equal(toHex(decodeRecoveryKey(v.text)), v.rk_hex);
    // Typed back without spaces, with line breaks, or with extra spaces: the same key.
    assert.equal(toHex(decodeRecoveryKey(v.text.replaceAll(' ', ''))), v.rk_hex);
    assert.equal(toHex(decodeRecoveryKey(`  ${v.text.replaceAll(' ', '\n')} \t`)), v.rk_hex);
    const seed = await backupSeed(rk);
    assert.equal(toHex(seed), v.seed_hex);
    const pair = backupKeyPairFromSeed(seed);
    assert.equal(toHex(pair.secret), v.backup_secret_hex);
    assert.equal(toHex(pair.publicKey), v.backup_public_hex);
    assert.equal(toHex((await backupKeyPair(rk)).publicKey), v.backup_public_hex);
    assert.equal(toHex(backupPublicOf(pair.secret)), v.backup_public_hex);
  });
}

for (const v of vectors.invalid_recovery_keys) {
  test(`recovery key refused calmly: ${v.why}`, () => {
    assert.throws(
      () => decodeRecoveryKey(v.text),
      (/** @type {any} */ error) =>
        error instanceof RecoveryKeyMalformed &&
        error.code === 'recovery_key_malformed' &&
        error.message === 'That recovery key doesn’t look right — check for a typo',
    );
  });
}

test('recovery key: a non-string, or lowercase-only where case matters, is refused', () => {
  assert.throws(() => decodeRecoveryKey(/** @type {any} */ (null)), RecoveryKeyMalformed);
  assert.throws(() => decodeRecoveryKey(rkOne.text.toLowerCase()), RecoveryKeyMalformed);
  assert.throws(() => encodeRecoveryKey(new Uint8Array(31)), { code: 'recovery_key_size' });
});

for (const v of vectors.backup_signatures) {
  test(`backup signature by ${v.device_id}: input and signature; the trust rule`, () => {
    const keys = keysOf(device(v.device_id));
    const kxKey = fromHex(v.kx_key_hex);
    assert.equal(toHex(backupSignatureInput(v.handle, kxKey)), v.input_hex);
    assert.equal(toHex(signBackupKey(keys.identitySecret, v.handle, kxKey)), v.signature_hex);
    const signatures = { [v.device_id]: b64e(fromHex(v.signature_hex)) };
    const listed = new Map([[v.device_id, keys.identityPublic]]);
    assert.ok(backupKeySigned(v.handle, kxKey, signatures, listed));
    assert.ok(backupKeySigned(v.handle.toLowerCase(), kxKey, signatures, listed));
    // Not by a device of that listing, another handle, another key, or a damaged signature: untrusted.
    assert.ok(!backupKeySigned(v.handle, kxKey, signatures, new Map()));
    assert.ok(!backupKeySigned('mallory', kxKey, signatures, listed));
    const other = fromHex(vectors.recovery_keys[1].backup_public_hex);
    assert.ok(!backupKeySigned(v.handle, other, signatures, listed));
    const bad = fromHex(v.signature_hex);
    bad[0] ^= 1;
    assert.ok(!backupKeySigned(v.handle, kxKey, { [v.device_id]: b64e(bad) }, listed));
    assert.ok(!backupKeySigned(v.handle, kxKey, null, listed));
    assert.ok(!backupKeySigned(v.handle, kxKey, { [v.device_id]: 'not base64!' }, listed));
  });
}

for (const v of vectors.link_codes) {
  test(`link code ${v.code}: the same from either device`, () => {
    const a = fromHex(v.identity_key_a_hex);
    const b = fromHex(v.identity_key_b_hex);
    assert.equal(linkCode(v.account_id, a, b), v.code);
    assert.equal(linkCode(v.account_id, b, a), v.code);
    assert.notEqual(linkCode(`${v.account_id}x`, a, b), v.code);
  });
}

for (const v of vectors.link_transfers) {
  test(`link transfer "${v.name}": plaintext, ciphertext, and what the new device opens`, () => {
    const approver = keysOf(device(v.approver_device_id));
    const target = keysOf(device(v.new_device_id));
    const parsed = JSON.parse(v.plaintext_utf8);
    const secret = {
      backupId: parsed.backup_id,
      backupSecret: parsed.backup_secret === null ? null : b64d(parsed.backup_secret),
    };
    assert.equal(new TextDecoder().decode(linkPlaintext(secret)), v.plaintext_utf8);
    const ciphertext = sealLinkSecret(
      secret,
      approver.kxPrivate,
      target.kxPublic,
      fromHex(v.nonce_hex),
    );
    assert.equal(ciphertext, v.ciphertext);
    assert.deepEqual(v.body, { ciphertext, sender_device_id: v.approver_device_id });
    const opened = openLinkSecret(v.ciphertext, target.kxPrivate, approver.kxPublic);
    assert.equal(opened.backupId, secret.backupId);
    if (secret.backupSecret === null) assert.equal(opened.backupSecret, null);
    else {
      assert.equal(toHex(/** @type {Uint8Array} */ (opened.backupSecret)), rkOne.backup_secret_hex);
    }
    // Opened by the wrong device, or said to come from another one: refused.
    const other = keysOf(
      vectors.devices.find(
        (/** @type {any} */ d) =>
          d.device_id !== v.new_device_id && d.device_id !== v.approver_device_id,
      ),
    );
    assert.throws(() => openLinkSecret(v.ciphertext, other.kxPrivate, approver.kxPublic), {
      code: 'link_unopenable',
    });
    assert.throws(() => openLinkSecret(v.ciphertext, target.kxPrivate, other.kxPublic), {
      code: 'link_unopenable',
    });
    const damaged = b64d(v.ciphertext);
    damaged[damaged.length - 1] ^= 1;
    assert.throws(() => openLinkSecret(b64e(damaged), target.kxPrivate, approver.kxPublic), {
      code: 'link_unopenable',
    });
  });
}

test('link transfer: a box holding another format is refused', () => {
  const approver = keysOf(vectors.devices[0]);
  const target = keysOf(vectors.devices[2]);
  for (const plain of [
    '{"v":2,"backup_id":null,"backup_secret":null}',
    '{"v":1,"backup_id":"b","backup_secret":"AAAA"}',
    '{"v":1,"backup_id":null}',
    '[]',
  ]) {
    const ciphertext = b64e(
      boxWrap(new TextEncoder().encode(plain), approver.kxPrivate, target.kxPublic),
    );
    assert.throws(() => openLinkSecret(ciphertext, target.kxPrivate, approver.kxPublic), {
      code: 'link_malformed',
    });
  }
});

test('backup message: sealed with the fixed randomness, the backup key opens it like a device', () => {
  const v = vectors.backup_message;
  const sender = keysOf(device(v.sender_device_id));
  const recipients = new Map([
    ...vectors.devices
      .filter((/** @type {any} */ d) => d.device_id in v.box_nonces_hex)
      .map((/** @type {any} */ d) => [d.device_id, fromHex(d.kx_public_hex)]),
    [vectors.counterpart_device.device_id, fromHex(vectors.counterpart_device.kx_public_hex)],
    [v.backup_id, fromHex(rkOne.backup_public_hex)],
  ]);
  const envelope = seal({
    payload: fromHex(v.payload_hex),
    conversationId: v.conversation_id,
    messageId: v.message_id,
    senderDeviceId: v.sender_device_id,
    identitySecret: sender.identitySecret,
    kxPrivate: sender.kxPrivate,
    recipients,
    urgent: v.urgent,
    contentKey: fromHex(v.content_key_hex),
    nonce: fromHex(v.nonce_hex),
    boxNonces: new Map(Object.entries(v.box_nonces_hex).map(([k, h]) => [k, fromHex(h)])),
  });
  assert.equal(
    toHex(/** @type {Uint8Array} */ (envelope.keys.get(v.backup_id))),
    v.backup_wrap_hex,
  );
  assert.equal(toHex(signatureInput(v.conversation_id, envelope)), v.sig_input_hex);
  assert.deepEqual(envelopeToWire(envelope), v.wire);
  const opened = openEnvelope(envelopeFromWire(v.wire), {
    conversationId: v.conversation_id,
    ownDeviceId: v.backup_id,
    ownKxPrivate: fromHex(rkOne.backup_secret_hex),
    senderIdentityPublic: sender.identityPublic,
    senderKxPublic: sender.kxPublic,
  });
  assert.equal(new TextDecoder().decode(opened), v.payload_utf8);
  // Another recovery key's secret does not open the backup wrap.
  assert.throws(() =>
    openEnvelope(envelopeFromWire(v.wire), {
      conversationId: v.conversation_id,
      ownDeviceId: v.backup_id,
      ownKxPrivate: fromHex(vectors.recovery_keys[1].backup_secret_hex),
      senderIdentityPublic: sender.identityPublic,
      senderKxPublic: sender.kxPublic,
    }),
  );
});
