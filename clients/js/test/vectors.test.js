// Reproduces tests/vectors/haven-v1.json byte for byte: keys, signatures, sealing, opening, safety numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

import {
  buildAad,
  computeCommitment,
  deviceKeysFromSecrets,
  envelopeFromWire,
  envelopeToWire,
  keysBlock,
  kxSignatureInput,
  loginProofInput,
  openEnvelope,
  safetyNumber,
  seal,
  signKx,
  signLoginProof,
  signatureInput,
  sodiumReady,
  verifyKxSignature,
  verifyLoginProof,
} from '../src/index.js';
import { fromHex, toHex } from '../src/encoding.js';
import { sha512 } from '../src/crypto.js';

const vectors = JSON.parse(
  await readFile(new URL('../../../tests/vectors/haven-v1.json', import.meta.url), 'utf8'),
);
await sodiumReady();

/** @param {Record<string, string>} hexes @returns {Map<string, Uint8Array>} */
const hexMap = (hexes) => new Map(Object.entries(hexes).map(([k, v]) => [k, fromHex(v)]));

/** @param {string} deviceId */
function device(deviceId) {
  const found = vectors.devices.find((/** @type {any} */ d) => d.device_id === deviceId);
  assert.ok(found, deviceId);
  return found;
}

test('the vector file is the haven-v1 one and has every section', () => {
  assert.equal(vectors.alg, 'haven-v1');
  assert.ok(vectors.devices.length >= 3);
  assert.ok(vectors.envelopes.length >= 2);
  assert.ok(vectors.safety_numbers.length >= 2);
});

for (const d of vectors.devices) {
  test(`device ${d.device_id}: public keys, kx_signature input and signature`, () => {
    const keys = deviceKeysFromSecrets(fromHex(d.identity_seed_hex), fromHex(d.kx_private_hex));
    assert.equal(toHex(keys.identityPublic), d.identity_public_hex);
    assert.equal(toHex(keys.kxPublic), d.kx_public_hex);
    assert.equal(toHex(kxSignatureInput(d.handle, keys.kxPublic)), d.kx_signature_input_hex);
    assert.equal(toHex(signKx(keys, d.handle)), d.kx_signature_hex);
    const signature = fromHex(d.kx_signature_hex);
    assert.ok(verifyKxSignature(keys.identityPublic, d.handle, keys.kxPublic, signature));
    assert.ok(
      verifyKxSignature(keys.identityPublic, d.handle.toUpperCase(), keys.kxPublic, signature),
    );
    assert.ok(!verifyKxSignature(keys.identityPublic, 'someone-else', keys.kxPublic, signature));
  });
}

test('login proof: input and signature', () => {
  const v = vectors.login_proof;
  const d = device(v.device_id);
  const keys = deviceKeysFromSecrets(fromHex(d.identity_seed_hex), fromHex(d.kx_private_hex));
  assert.equal(
    toHex(loginProofInput(v.handle, v.ts, keys.identityPublic, keys.kxPublic)),
    v.input_hex,
  );
  assert.equal(toHex(signLoginProof(keys, v.handle, v.ts)), v.proof_hex);
  const proof = fromHex(v.proof_hex);
  assert.ok(verifyLoginProof(keys.identityPublic, v.handle, v.ts, keys.kxPublic, proof));
  assert.ok(!verifyLoginProof(keys.identityPublic, v.handle, v.ts + 1, keys.kxPublic, proof));
});

for (const v of vectors.envelopes) {
  const sender = device(v.sender_device_id);
  const senderKeys = deviceKeysFromSecrets(
    fromHex(sender.identity_seed_hex),
    fromHex(sender.kx_private_hex),
  );
  const recipients = new Map(
    vectors.devices.map((/** @type {any} */ d) => [d.device_id, fromHex(d.kx_public_hex)]),
  );

  test(`envelope "${v.name}": sealing with the fixed randomness gives every byte`, () => {
    const envelope = seal({
      payload: fromHex(v.payload_hex),
      conversationId: v.conversation_id,
      messageId: v.message_id,
      senderDeviceId: v.sender_device_id,
      identitySecret: senderKeys.identitySecret,
      kxPrivate: senderKeys.kxPrivate,
      recipients,
      urgent: v.urgent,
      contentKey: fromHex(v.content_key_hex),
      nonce: fromHex(v.nonce_hex),
      boxNonces: hexMap(v.box_nonces_hex),
    });
    assert.equal(toHex(buildAad(v.conversation_id, v.message_id, v.sender_device_id)), v.aad_hex);
    assert.equal(toHex(envelope.ciphertext), v.ciphertext_hex);
    assert.equal(toHex(envelope.commitment), v.commitment_hex);
    assert.equal(
      toHex(computeCommitment(fromHex(v.content_key_hex), fromHex(v.nonce_hex))),
      v.commitment_hex,
    );
    for (const [id, hex] of Object.entries(v.keys_hex)) {
      assert.equal(toHex(/** @type {Uint8Array} */ (envelope.keys.get(id))), hex, id);
    }
    assert.equal(envelope.keys.size, Object.keys(v.keys_hex).length);
    assert.equal(toHex(keysBlock(envelope.keys)), v.keys_block_hex);
    assert.equal(toHex(sha512(envelope.ciphertext)), v.ciphertext_sha512_hex);
    assert.equal(toHex(sha512(keysBlock(envelope.keys))), v.keys_block_sha512_hex);
    assert.equal(toHex(signatureInput(v.conversation_id, envelope)), v.sig_input_hex);
    assert.equal(toHex(envelope.signature), v.signature_hex);
    assert.deepEqual(envelopeToWire(envelope), v.wire);
    assert.equal(
      JSON.stringify(Object.keys(envelopeToWire(envelope).keys)),
      JSON.stringify(v.keys_block_order),
    );
  });

  for (const d of vectors.devices) {
    test(`envelope "${v.name}": ${d.device_id} opens the wire form to the exact payload`, () => {
      const envelope = envelopeFromWire(v.wire);
      const payload = openEnvelope(envelope, {
        conversationId: v.conversation_id,
        ownDeviceId: d.device_id,
        ownKxPrivate: fromHex(d.kx_private_hex),
        senderIdentityPublic: fromHex(sender.identity_public_hex),
        senderKxPublic: fromHex(sender.kx_public_hex),
      });
      assert.equal(toHex(payload), v.payload_hex);
      assert.equal(new TextDecoder().decode(payload), v.payload_utf8);
      assert.equal(envelope.urgent, v.urgent);
    });
  }
}

for (const [index, v] of vectors.safety_numbers.entries()) {
  test(`safety number ${index}: 60 digits, the same from either side`, () => {
    const keysA = v.identity_keys_a_hex.map(fromHex);
    const keysB = v.identity_keys_b_hex.map(fromHex);
    assert.equal(safetyNumber(v.account_a, keysA, v.account_b, keysB), v.safety_number);
    assert.equal(
      safetyNumber(v.account_b, keysB, v.account_a, [...keysA].reverse()),
      v.safety_number,
    );
  });
}
