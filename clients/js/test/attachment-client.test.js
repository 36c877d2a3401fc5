// Files through the client against a fake gateway: a sized octet-stream upload, `attachment_ids`
// over HTTP and over the socket, the counterpart opening exactly the bytes sent, and hard failure
// on a download that is tampered with, cut short or too long, or whose hash is not the message's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

import {
  AttachmentError,
  HavenApiError,
  attachmentsFromPayload,
  blobLength,
} from '../src/index.js';
import { attachmentWorld } from './support/fake-attachments.js';
import { until } from './support/world.js';

/** @param {import('../src/index.js').HavenClient} client @param {string} cid */
async function lastMessage(client, cid) {
  const { messages } = await client.history(cid, { afterSeq: 0 });
  const last = messages.at(-1);
  assert.equal(last?.kind, 'message');
  return /** @type {any} */ (last);
}

/** @param {Blob} blob */
const bytesOf = async (blob) => new Uint8Array(await blob.arrayBuffer());

test('a file is uploaded sized and opaque, sent over HTTP and opened byte for byte by the counterpart', async (t) => {
  const w = await attachmentWorld();
  t.after(() => w.close());
  const kim = await w.signIn(w.kim);
  const sam = await w.signIn(w.sam);
  const file = new Uint8Array(randomBytes(150_000));
  /** @type {string[]} */
  const seen = [];
  const ref = await kim.uploadAttachment(w.cid, file, {
    name: 'worksheet.pdf',
    mime: 'application/pdf',
    onProgress: (p) => seen.push(p.phase),
  });
  assert.ok(seen.includes('encrypting') && seen.at(-1) === 'uploading');
  assert.deepEqual(w.gw.uploadHeaders, [
    {
      'content-length': String(blobLength(file.length)),
      'content-type': 'application/octet-stream',
      'transfer-encoding': undefined,
    },
  ]);
  const stored = /** @type {any} */ (w.gw.blobs.get(ref.attachmentId)).bytes;
  assert.equal(stored.length, blobLength(file.length));
  assert.equal(
    Buffer.from(stored).indexOf(Buffer.from(file.subarray(0, 32))),
    -1,
    'no plaintext stored',
  );

  const sent = await kim.send(w.cid, 'Here is the worksheet', { attachments: [ref] });
  assert.equal(sent.state, 'sent');
  assert.deepEqual(w.gw.referenced, [{ via: 'http', ids: [ref.attachmentId] }]);

  const message = await lastMessage(sam, w.cid);
  assert.equal(message.body, 'Here is the worksheet');
  const [got] = attachmentsFromPayload(message.payload);
  assert.equal(got.name, 'worksheet.pdf');
  assert.equal(got.mime, 'application/pdf');
  assert.equal(got.size, file.length);
  assert.equal(got.durationMs, null);
  const opened = await sam.openAttachment(w.cid, got);
  assert.equal(opened.type, 'application/octet-stream');
  assert.deepEqual(await bytesOf(opened), file);
});

test('a voice note goes over the socket with attachment_ids and arrives live with its duration', async (t) => {
  const w = await attachmentWorld();
  t.after(() => w.close());
  const kim = await w.signIn(w.kim);
  const sam = await w.signIn(w.sam);
  kim.connect();
  sam.connect();
  await until(() => kim.connectionState === 'open' && sam.connectionState === 'open');
  /** @type {any[]} */
  const heard = [];
  sam.on('message', (m) => heard.push(m));
  const audio = new Uint8Array(randomBytes(70_000));
  const voice = new Blob([audio], { type: 'audio/webm;codecs=opus' });
  const ref = await kim.uploadAttachment(w.cid, voice, {
    name: 'voice-note.webm',
    durationMs: 4200,
  });
  assert.equal(ref.mime, 'audio/webm;codecs=opus', 'the Blob’s own type');
  /** @type {any[]} */
  const states = [];
  kim.on('send_state', (s) => states.push(s));
  await kim.send(w.cid, '', { attachments: [ref] });
  assert.deepEqual(w.gw.referenced, [{ via: 'ws', ids: [ref.attachmentId] }]);
  assert.deepEqual(
    states[0].attachments.map((/** @type {any} */ a) => a.attachmentId),
    [ref.attachmentId],
    'send_state carries the files, so an app can show them while sending',
  );
  await until(() => heard.length === 1);
  const [got] = attachmentsFromPayload(heard[0].payload);
  assert.equal(heard[0].body, '');
  assert.equal(got.durationMs, 4200);
  assert.equal(got.name, 'voice-note.webm');
  const opened = await sam.openAttachment(w.cid, got, { type: 'audio/webm' });
  assert.equal(opened.type, 'audio/webm');
  assert.deepEqual(await bytesOf(opened), audio);
});

test('a download that was tampered with, cut short, extended or hashed otherwise is refused whole', async (t) => {
  const w = await attachmentWorld();
  t.after(() => w.close());
  const kim = await w.signIn(w.kim);
  const sam = await w.signIn(w.sam);
  const file = new Uint8Array(randomBytes(140_000));
  const ref = await kim.uploadAttachment(w.cid, file, { name: 'a.bin' });
  await kim.send(w.cid, 'file', { attachments: [ref] });
  const [got] = attachmentsFromPayload((await lastMessage(sam, w.cid)).payload);

  w.gw.tamper = (bytes) => {
    bytes[100_000] ^= 1;
    return bytes;
  };
  await assert.rejects(sam.openAttachment(w.cid, got), AttachmentError);
  w.gw.tamper = (bytes) => bytes.subarray(0, bytes.length - 17);
  await assert.rejects(sam.openAttachment(w.cid, got), AttachmentError);
  w.gw.tamper = (bytes) => new Uint8Array([...bytes, 0]);
  await assert.rejects(sam.openAttachment(w.cid, got), AttachmentError);
  w.gw.tamper = null;
  const otherHash = { ...got, sha256: new Uint8Array(32) };
  await assert.rejects(sam.openAttachment(w.cid, otherHash), /SHA-256/);
  await assert.rejects(sam.openAttachment(w.cid, { ...got, attachmentId: 'att_nope' }), (error) => {
    assert.ok(error instanceof HavenApiError);
    assert.equal(error.status, 404);
    return true;
  });
  assert.deepEqual(
    await bytesOf(await sam.openAttachment(w.cid, got)),
    file,
    'untouched: it opens',
  );
});

test('refused uploads say why (too large, quota, paused) and store nothing', async (t) => {
  const w = await attachmentWorld();
  t.after(() => w.close());
  const kim = await w.signIn(w.kim);
  const file = new Uint8Array(5000);
  const refused = async (/** @type {number} */ status, /** @type {string} */ code) =>
    assert.rejects(kim.uploadAttachment(w.cid, file), (error) => {
      assert.ok(error instanceof HavenApiError, String(error));
      assert.deepEqual([error.status, error.code], [status, code]);
      return true;
    });
  await assert.rejects(kim.uploadAttachment(w.cid, file, { durationMs: 2.5 }), /duration_ms/);
  assert.deepEqual(
    w.gw.uploadHeaders,
    [],
    'a reference no receiver would accept is never uploaded',
  );
  w.gw.maxBytes = 4096;
  await refused(413, 'payload_too_large');
  w.gw.maxBytes = Infinity;
  w.gw.quotaBytes = 1000;
  await refused(413, 'quota_exceeded');
  w.gw.quotaBytes = Infinity;
  /** @type {any} */ (w.gw.conversations.get(w.cid)).status = 'paused';
  await refused(409, 'paused');
  assert.equal(w.gw.blobs.size, 0);
});

test('attachment_ids are checked by the server, and more than ten files never leave the client', async (t) => {
  const w = await attachmentWorld();
  t.after(() => w.close());
  const kim = await w.signIn(w.kim);
  const sam = await w.signIn(w.sam);
  const ref = await sam.uploadAttachment(w.cid, new Uint8Array(10), { name: 'x' });
  await assert.rejects(kim.send(w.cid, 'not mine', { attachments: [ref] }), (error) => {
    assert.ok(error instanceof HavenApiError);
    assert.equal(error.status, 422);
    return true;
  });
  await assert.rejects(kim.send(w.cid, 'many', { attachments: Array(11).fill(ref) }), /at most 10/);
  assert.equal(w.gw.messages.get(w.cid)?.length, 0);
});

test('an expired access token is refreshed once for an upload and a download', async (t) => {
  const w = await attachmentWorld();
  t.after(() => w.close());
  const kim = await w.signIn(w.kim);
  const file = new Uint8Array(randomBytes(3000));
  w.gw.access.clear();
  const ref = await kim.uploadAttachment(w.cid, file, { name: 'n' });
  w.gw.access.clear();
  assert.deepEqual(
    await bytesOf(await kim.openAttachment(w.cid, ref)),
    file,
    'a pending upload opens for its uploader',
  );
});
