import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attachmentToPayload } from 'haven-sdk';
import { blobType, clock, fileSize, filesOf, kindOf, recordingType, safeName, voiceName } from '../src/files.js';

/** @param {string} mime @param {number | null} [durationMs] */
const ref = (mime, durationMs = null) => ({
  attachmentId: 'att_1',
  key: new Uint8Array(32),
  sha256: new Uint8Array(32),
  mime,
  name: 'n',
  size: 5,
  durationMs,
});

test('only a short list of image and audio types is rendered; everything else is saved as bytes', () => {
  assert.equal(kindOf(ref('image/png')), 'image');
  assert.equal(kindOf(ref('IMAGE/JPEG')), 'image');
  assert.equal(kindOf(ref('audio/webm;codecs=opus', 4000)), 'audio');
  assert.equal(kindOf(ref('audio/mp4')), 'audio');
  for (const mime of ['image/svg+xml', 'text/html', 'application/pdf', '', 'image/png-but-not']) {
    assert.equal(kindOf(ref(mime)), 'file', mime);
    assert.equal(blobType(ref(mime)), 'application/octet-stream', mime);
  }
  assert.equal(blobType(ref('audio/webm;codecs=opus')), 'audio/webm');
  assert.equal(blobType(ref('image/webp')), 'image/webp');
});

test('a message’s files are parsed strictly, and a broken list is flagged, not dropped', () => {
  const entry = attachmentToPayload(ref('application/pdf'));
  assert.deepEqual(filesOf({ payload: { type: 'text', body: 'x' } }), { files: [], filesUnreadable: false });
  assert.deepEqual(filesOf({ kind: 'failed' }), { files: [], filesUnreadable: false });
  const good = filesOf({ payload: { attachments: [entry] } });
  assert.equal(good.files.length, 1);
  assert.equal(good.filesUnreadable, false);
  assert.deepEqual(filesOf({ payload: { attachments: [{ ...entry, key: 'AAAA' }] } }), {
    files: [],
    filesUnreadable: true,
  });
  assert.equal(filesOf({ payload: { attachments: Array(11).fill(entry) } }).filesUnreadable, true);
});

test('sizes, durations and voice-note names read well', () => {
  assert.equal(fileSize(812, 'en'), '812 bytes');
  assert.equal(fileSize(66_536, 'en'), '67 kB');
  assert.equal(fileSize(3_400_000, 'en'), '3.4 MB');
  assert.equal(fileSize(3_400_000, 'de'), '3,4 MB');
  assert.equal(clock(4200), '0:04');
  assert.equal(clock(750_000), '12:30');
  assert.equal(
    recordingType((t) => t.startsWith('audio/ogg')),
    'audio/ogg;codecs=opus',
  );
  assert.equal(
    recordingType(() => false),
    '',
  );
  const when = new Date('2026-12-04T21:05:09Z');
  assert.equal(voiceName('audio/webm;codecs=opus', when), 'voice-note-2026-12-04-21-05-09.webm');
  assert.equal(voiceName('audio/mp4', when), 'voice-note-2026-12-04-21-05-09.m4a');
});

test('a sender-chosen name is shown and saved as one harmless file name', () => {
  assert.equal(safeName('worksheet.pdf'), 'worksheet.pdf');
  assert.equal(safeName('../../.bashrc'), 'bashrc');
  assert.equal(safeName('C:\\Users\\x\\evil.exe'), 'evil.exe');
  assert.equal(safeName('report\u202Efdp.exe'), 'report_fdp.exe', 'no right-to-left override');
  assert.equal(safeName('a\u0000b<c>.txt'), 'a_b_c_.txt');
  assert.equal(safeName('CON.txt'), '_CON.txt');
  assert.equal(safeName('notes. . '), 'notes');
  assert.equal(safeName(''), 'file');
  assert.equal(safeName(null), 'file');
  assert.equal(safeName('...'), 'file');
  const long = safeName(`${'x'.repeat(300)}.pdf`);
  assert.equal(long.length, 120);
  assert.ok(long.endsWith('.pdf'));
});
