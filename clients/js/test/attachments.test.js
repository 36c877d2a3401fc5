// Attachment blobs: reproduces tests/vectors/attachments.json byte for byte (padding, blob, hash,
// payload entry), opens every vector blob, and refuses every kind of broken blob and entry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';

import {
  AttachmentError,
  BlobDecryptor,
  CHUNK_PLAIN,
  HEADER_BYTES,
  MAX_ATTACHMENTS,
  attachmentFromPayload,
  attachmentToPayload,
  attachmentsFromPayload,
  b64e,
  blobLength,
  decryptBytes,
  encryptBytes,
  encryptStream,
  newAttachmentKey,
  padme,
  paddedLength,
  sealFile,
  sodiumReady,
} from '../src/index.js';
import { fromHex, toHex } from '../src/encoding.js';
import { sodium } from '../src/sodium.js';

await sodiumReady();
const vectors = JSON.parse(
  await readFile(new URL('../../../tests/vectors/attachments.json', import.meta.url), 'utf8'),
);
const CHUNK_CIPHER = CHUNK_PLAIN + 17;

/** @param {string | Uint8Array} data */
const sha256 = (data) => new Uint8Array(createHash('sha256').update(data).digest());
/** @param {string} label */
const fixed = (label) => sha256(`haven attachment test vector: ${label}`);

/** The rule in the vectors' "about": SHA-256 blocks of a label, cut to size. @param {string} name @param {number} size */
function plaintextOf(name, size) {
  const out = new Uint8Array(size);
  for (let i = 0, at = 0; at < size; i++, at += 32) {
    out.set(fixed(`${name} plaintext ${i}`).subarray(0, size - at), at);
  }
  return out;
}

/** @param {Uint8Array[]} parts */
function join(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Padmé with BigInt, as the paper writes it, to check the float-safe version. @param {number} n */
function padmeBig(n) {
  const length = BigInt(n);
  const e = BigInt(length.toString(2).length - 1);
  const s = BigInt(e.toString(2).length);
  const mask = (1n << (e - s)) - 1n;
  return Number((length + mask) & ~mask);
}

/** @param {Uint8Array} blob @param {Uint8Array} key @param {number} size @param {Uint8Array} [digest] */
const ref = (blob, key, size, digest = sha256(blob)) => ({ key, sha256: digest, size });

test('Padmé and blob lengths are the vectors’ (and the paper’s, far past 2^31)', () => {
  assert.ok(vectors.padme.length >= 10);
  for (const row of vectors.padme) {
    assert.equal(paddedLength(row.size), row.padded_length, `padded ${row.size}`);
    assert.equal(blobLength(row.size), row.blob_length, `blob ${row.size}`);
  }
  for (const n of [
    2,
    3,
    1025,
    4097,
    65537,
    99_999,
    1_000_001,
    25 * 2 ** 20 - 3,
    3e9 + 7,
    2 ** 40 + 1,
  ]) {
    assert.equal(padme(n), padmeBig(n), `padme ${n}`);
    assert.ok(padme(n) >= n && padme(n) - n <= n * 0.12);
  }
  assert.throws(() => paddedLength(-1), AttachmentError);
  assert.throws(() => paddedLength(1.5), AttachmentError);
});

for (const vector of vectors.files) {
  test(`vector "${vector.name}": the blob, its hash and the payload entry are byte-exact`, async () => {
    const key = fromHex(vector.key_hex);
    const header = fromHex(vector.header_hex);
    // The documented derivation of key, header and plaintext holds.
    assert.deepEqual(key, fixed(`${vector.name} key`));
    assert.deepEqual(header, fixed(`${vector.name} header`).subarray(0, 24));
    const entry = vector.payload_entry;
    const plain = plaintextOf(vector.name, entry.size);
    assert.equal(toHex(sha256(plain)), vector.plaintext_sha256_hex);
    if (vector.plaintext_hex !== null) assert.equal(toHex(plain), vector.plaintext_hex);

    const blob = encryptBytes(plain, key, { header });
    assert.equal(blob.length, vector.blob_length);
    assert.equal(blob.length, blobLength(entry.size));
    assert.equal(paddedLength(entry.size), vector.padded_length);
    assert.equal(toHex(sha256(blob)), vector.blob_sha256_hex);
    if (vector.blob_hex !== null) assert.equal(toHex(blob), vector.blob_hex);

    // Streaming in odd pieces gives the same bytes; sealFile hashes them the same.
    const pieces = [];
    for (let at = 0; at < plain.length; at += 7001) pieces.push(plain.subarray(at, at + 7001));
    const streamed = [];
    for await (const part of encryptStream(pieces, plain.length, key, { header }))
      streamed.push(part);
    assert.deepEqual(join(streamed), blob);
    const sealed = await sealFile(plain, { key, header });
    assert.equal(sealed.length, blob.length);
    assert.deepEqual(join(sealed.parts), blob);
    assert.equal(b64e(sealed.sha256), entry.sha256);
    assert.ok(sealed.parts.slice(1).every((p) => p.length <= CHUNK_CIPHER));

    // The entry parses to these bytes and builds back to exactly the same JSON.
    const parsed = attachmentFromPayload(entry);
    assert.deepEqual(parsed.key, key);
    assert.equal(toHex(parsed.sha256), vector.blob_sha256_hex);
    assert.equal(parsed.durationMs, entry.duration_ms ?? null);
    assert.equal(JSON.stringify(attachmentToPayload(parsed)), JSON.stringify(entry));

    assert.deepEqual(await decryptBytes(blob, parsed), plain);
    const opener = await BlobDecryptor.open(parsed);
    const out = [];
    for (let at = 0; at < blob.length; at += 1234)
      out.push(...opener.feed(blob.subarray(at, at + 1234)));
    out.push(...opener.finish());
    assert.deepEqual(join(out), plain);
  });
}

test('a fresh key seals a file the server cannot read, and it opens again', async () => {
  const key = newAttachmentKey();
  const plain = new Uint8Array(900 * 256).map((_, i) => i % 256);
  const blob = encryptBytes(plain, key);
  assert.equal(blob.length, blobLength(plain.length));
  assert.equal(Buffer.from(blob).indexOf(Buffer.from(plain.subarray(0, 64))), -1);
  assert.notDeepEqual(
    encryptBytes(plain, key).subarray(0, 24),
    blob.subarray(0, 24),
    'random header',
  );
  assert.deepEqual(await decryptBytes(blob, ref(blob, key, plain.length)), plain);
});

/** A file of a bit over three chunks. */
function big() {
  const key = newAttachmentKey();
  const plain = new TextEncoder().encode('worksheet '.repeat(20_000));
  return { blob: encryptBytes(plain, key), key, size: plain.length };
}

test('a tampered chunk is refused even when the hash matches the tampered blob', async () => {
  const { blob, key, size } = big();
  const bad = blob.slice();
  bad[HEADER_BYTES + 10] ^= 1;
  await assert.rejects(decryptBytes(bad, ref(bad, key, size)), /does not authenticate/);
  const lastByte = blob.slice();
  lastByte[lastByte.length - 1] ^= 1;
  await assert.rejects(decryptBytes(lastByte, ref(lastByte, key, size)), /does not authenticate/);
  const header = blob.slice();
  header[0] ^= 1;
  await assert.rejects(decryptBytes(header, ref(header, key, size)), /does not authenticate/);
});

test('a truncated blob is refused, also at a chunk boundary', async () => {
  const { blob, key, size } = big();
  const cut = blob.subarray(0, HEADER_BYTES + CHUNK_CIPHER);
  await assert.rejects(decryptBytes(cut, ref(cut, key, size)), /truncated/);
  // The first chunk alone, presented as a whole one-chunk file: its tag is not FINAL.
  await assert.rejects(decryptBytes(cut, ref(cut, key, CHUNK_PLAIN - 100)), /final chunk/);
  const short = blob.subarray(0, blob.length - 1);
  await assert.rejects(decryptBytes(short, ref(short, key, size)), /truncated/);
});

test('anything after the FINAL chunk is refused', async () => {
  const { blob, key, size } = big();
  const longer = join([blob, new Uint8Array(1)]);
  await assert.rejects(decryptBytes(longer, ref(longer, key, size)), /longer than its size/);
  const twice = join([blob, blob.subarray(HEADER_BYTES + 3 * CHUNK_CIPHER)]);
  await assert.rejects(decryptBytes(twice, ref(twice, key, size)), /longer than its size/);
});

test('a FINAL tag anywhere but on the last chunk, or missing from it, is refused', async () => {
  const lib = sodium();
  const key = newAttachmentKey();
  const size = CHUNK_PLAIN + 1000; // padded to 64 KiB + 2 KiB: two chunks
  /** @param {number[]} tags one chunk per tag: 64 KiB of zeros, the last one 2 KiB */
  const craft = (tags) => {
    const { state, header } = lib.crypto_secretstream_xchacha20poly1305_init_push(key);
    const chunks = tags.map((tag, i) => {
      const plain = new Uint8Array(
        i === tags.length - 1 ? paddedLength(size) - CHUNK_PLAIN : CHUNK_PLAIN,
      );
      return lib.crypto_secretstream_xchacha20poly1305_push(state, plain, null, tag);
    });
    return join([header, ...chunks]);
  };
  const FINAL = lib.crypto_secretstream_xchacha20poly1305_TAG_FINAL;
  const MESSAGE = lib.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
  for (const tags of [
    [FINAL, FINAL],
    [FINAL, MESSAGE],
    [MESSAGE, MESSAGE],
  ]) {
    const blob = craft(tags);
    assert.equal(blob.length, blobLength(size));
    await assert.rejects(decryptBytes(blob, ref(blob, key, size)), /final chunk is misplaced/);
  }
  const good = craft([MESSAGE, FINAL]);
  assert.deepEqual(await decryptBytes(good, ref(good, key, size)), new Uint8Array(size));
});

test('chunks in another order are refused', async () => {
  const { blob, key, size } = big();
  const body = blob.subarray(HEADER_BYTES);
  const swapped = join([
    blob.subarray(0, HEADER_BYTES),
    body.subarray(CHUNK_CIPHER, 2 * CHUNK_CIPHER),
    body.subarray(0, CHUNK_CIPHER),
    body.subarray(2 * CHUNK_CIPHER),
  ]);
  await assert.rejects(decryptBytes(swapped, ref(swapped, key, size)), /does not authenticate/);
});

test('a wrong SHA-256, key or size is refused; padding must be zero', async () => {
  const { blob, key, size } = big();
  await assert.rejects(decryptBytes(blob, ref(blob, key, size, sha256('other'))), /SHA-256/);
  await assert.rejects(decryptBytes(blob, ref(blob, newAttachmentKey(), size)), /authenticate/);
  await assert.rejects(decryptBytes(blob, ref(blob, key, size + 5000)), AttachmentError);
  // Ten real bytes of the file now sit where the padding should be zero.
  await assert.rejects(decryptBytes(blob, ref(blob, key, size - 10)), /padding is not zero/);
});

test('a decryptor that refused once refuses everything after', async () => {
  const { blob, key, size } = big();
  const opener = await BlobDecryptor.open(ref(blob, key, size, sha256('other')));
  opener.feed(blob);
  assert.throws(() => opener.finish(), /SHA-256/);
  assert.throws(() => opener.feed(new Uint8Array(1)), AttachmentError);
  assert.throws(() => opener.finish(), AttachmentError);
});

test('a file that lies about its size is refused while sealing', async () => {
  await assert.rejects(sealFile([new Uint8Array(3)], { size: 2 }), /longer than its declared size/);
  await assert.rejects(
    sealFile([new Uint8Array(3)], { size: 4 }),
    /shorter than its declared size/,
  );
  await assert.rejects(sealFile([new Uint8Array(3)]), /size/);
});

test('payload entries are parsed strictly', () => {
  const good = attachmentToPayload({
    attachmentId: 'att_1',
    key: newAttachmentKey(),
    sha256: sha256('x'),
    mime: 'audio/ogg',
    name: 'v.ogg',
    size: 9,
    durationMs: 1500,
  });
  assert.deepEqual(attachmentToPayload(attachmentFromPayload(good)), good);
  assert.deepEqual(attachmentsFromPayload({ type: 'text' }), []);
  assert.equal(attachmentsFromPayload({ attachments: [good] }).length, 1);
  assert.equal(
    attachmentsFromPayload({ attachments: Array(MAX_ATTACHMENTS).fill(good) }).length,
    10,
  );
  const noDuration = { ...good };
  delete noDuration.duration_ms;
  assert.equal(attachmentFromPayload(noDuration).durationMs, null);
  assert.ok(!('duration_ms' in attachmentToPayload(attachmentFromPayload(noDuration))));
  const key = String(good.key);
  const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  // 32 bytes in 43 characters leave 2 unused bits: setting one is a second spelling of the key.
  const twin = key.slice(0, -1) + ALPHABET[ALPHABET.indexOf(key.slice(-1)) | 1];
  const broken = [
    { ...good, key: 'AAAA' },
    { ...good, key: twin },
    { ...good, key: `${key}=` },
    { ...good, key: b64e(new Uint8Array(33)) },
    { ...good, sha256: b64e(new Uint8Array(31)) },
    { ...good, size: true },
    { ...good, size: -1 },
    { ...good, size: 1.5 },
    { ...good, size: '9' },
    { ...good, duration_ms: null },
    { ...good, name: 7 },
    { ...good, mime: undefined },
    { ...good, attachment_id: null },
    [good],
    null,
    'att_1',
  ];
  for (const entry of broken) {
    assert.throws(
      () => attachmentsFromPayload({ attachments: [entry] }),
      AttachmentError,
      JSON.stringify(entry),
    );
  }
  assert.throws(
    () => attachmentsFromPayload({ attachments: Array(11).fill(good) }),
    AttachmentError,
  );
  assert.throws(() => attachmentsFromPayload({ attachments: good }), AttachmentError);
  // A sender cannot list what a receiver would refuse.
  const sound = attachmentFromPayload(good);
  for (const wrong of [
    { durationMs: 1.5 },
    { size: -1 },
    { key: new Uint8Array(31) },
    { name: 7 },
  ]) {
    assert.throws(
      () => attachmentToPayload(/** @type {any} */ ({ ...sound, ...wrong })),
      AttachmentError,
      JSON.stringify(wrong),
    );
  }
  assert.throws(() => attachmentsFromPayload({ attachments: null }), AttachmentError);
});
