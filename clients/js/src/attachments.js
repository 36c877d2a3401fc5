/**
 * Encrypted files (docs/attachments.md): the payload reference (built and strictly parsed), sealing a
 * file into a blob, the upload (`POST …/attachments`, a sized `application/octet-stream` body) and the
 * download that opens a blob only when every check passes. Bytes move a chunk at a time; the blob is
 * kept as its sealed chunks (a `Blob` of parts, never one big copy) because the gateway needs its
 * length before the body.
 */
import {
  AttachmentError,
  BlobDecryptor,
  BlobEncryptor,
  KEY_BYTES,
  blobLength,
  newAttachmentKey,
} from './attachment-stream.js';
import { b64d, b64e } from './encoding.js';
import { HavenApiError, HavenError } from './errors.js';
import { sha256Hasher } from './sha256.js';

export const MAX_ATTACHMENTS = 10;
const PIECE = 256 * 1024;

/**
 * @typedef {object} AttachmentRef one file as the encrypted payload lists it
 * @property {string} attachmentId
 * @property {Uint8Array} key the file's own 32-byte key
 * @property {Uint8Array} sha256 of the whole blob as uploaded
 * @property {string} mime as the sender claimed it: never trust it for rendering
 * @property {string} name as the sender named it
 * @property {number} size the true plaintext length
 * @property {number | null} durationMs voice notes only
 */

/**
 * @typedef {Blob | Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>} FileSource a
 *   `File`/`Blob`, bytes, or pieces of bytes (then `size` must be given)
 */

/**
 * @typedef {{phase: 'encrypting' | 'uploading' | 'downloading', done: number, total: number}} Progress
 */

/**
 * The JSON object inside the payload's `attachments` list (field order as the reference's). It is
 * checked as a receiver will check it, so a sender never lists a file nobody can open (a
 * fractional duration, a key of the wrong length…): an `AttachmentError` instead.
 * @param {AttachmentRef} ref
 * @returns {Record<string, string | number>}
 */
export function attachmentToPayload(ref) {
  const entry = payloadEntry(ref);
  attachmentFromPayload(entry);
  return entry;
}

/** @param {AttachmentRef} ref */
function payloadEntry(ref) {
  /** @type {Record<string, string | number>} */
  const entry = {
    attachment_id: ref.attachmentId,
    key: b64e(ref.key),
    sha256: b64e(ref.sha256),
    mime: ref.mime,
    name: ref.name,
    size: ref.size,
  };
  if (ref.durationMs !== null && ref.durationMs !== undefined) entry.duration_ms = ref.durationMs;
  return entry;
}

/** @param {Record<string, unknown>} entry @param {string} name */
function text(entry, name) {
  const value = entry[name];
  if (typeof value !== 'string')
    throw new AttachmentError(`attachment field ${name} must be a string`);
  return value;
}

/** @param {Record<string, unknown>} entry @param {string} name */
function count(entry, name) {
  const value = entry[name];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
    throw new AttachmentError(`attachment field ${name} must be a non-negative integer`);
  return value;
}

/** @param {Record<string, unknown>} entry @param {string} name @param {number} length */
function bytes(entry, name, length) {
  let value;
  try {
    value = b64d(text(entry, name));
  } catch (error) {
    if (error instanceof AttachmentError) throw error;
    throw new AttachmentError(`attachment field ${name} is not canonical base64url`);
  }
  if (value.length !== length)
    throw new AttachmentError(`attachment field ${name} must be ${length} bytes`);
  return value;
}

/**
 * Parse and check one entry; anything malformed is an `AttachmentError`.
 * @param {unknown} entry
 * @returns {AttachmentRef}
 */
export function attachmentFromPayload(entry) {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
    throw new AttachmentError('an attachment entry is an object');
  const e = /** @type {Record<string, unknown>} */ (entry);
  return {
    attachmentId: text(e, 'attachment_id'),
    key: bytes(e, 'key', KEY_BYTES),
    sha256: bytes(e, 'sha256', 32),
    mime: text(e, 'mime'),
    name: text(e, 'name'),
    size: count(e, 'size'),
    durationMs: 'duration_ms' in e ? count(e, 'duration_ms') : null,
  };
}

/**
 * The files a decrypted payload lists (none when it has no `attachments`); at most 10.
 * @param {Record<string, unknown>} payload
 * @returns {AttachmentRef[]}
 */
export function attachmentsFromPayload(payload) {
  if (!('attachments' in payload)) return [];
  const entries = payload.attachments;
  if (!Array.isArray(entries) || entries.length > MAX_ATTACHMENTS)
    throw new AttachmentError('attachments must be a list of at most 10 entries');
  return entries.map(attachmentFromPayload);
}

/**
 * @param {FileSource} source
 * @returns {AsyncGenerator<Uint8Array>}
 */
async function* piecesOf(source) {
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    for (let at = 0; at < source.size; at += PIECE) {
      yield new Uint8Array(await source.slice(at, at + PIECE).arrayBuffer());
    }
  } else if (source instanceof Uint8Array) {
    for (let at = 0; at < source.length; at += PIECE) yield source.subarray(at, at + PIECE);
  } else {
    yield* /** @type {AsyncIterable<Uint8Array>} */ (source);
  }
}

/** @param {FileSource} source @param {number | undefined} size */
function sizeOf(source, size) {
  if (size !== undefined) return size;
  if (typeof Blob !== 'undefined' && source instanceof Blob) return source.size;
  if (source instanceof Uint8Array) return source.length;
  throw new HavenError('size_required', 'give the size of a file passed as pieces');
}

/**
 * @typedef {object} SealedFile
 * @property {Uint8Array[]} parts the blob: header, then one sealed chunk per 64 KiB
 * @property {number} length `blobLength(size)`
 * @property {Uint8Array} key
 * @property {Uint8Array} sha256 of the blob
 * @property {number} size
 */

/**
 * Encrypt a file under a fresh key, a chunk at a time, hashing the blob on the way.
 * @param {FileSource} source
 * @param {{size?: number, key?: Uint8Array, header?: Uint8Array, onProgress?: (p: Progress) => void}} [options]
 *   `key`/`header` fixed: test vectors only
 * @returns {Promise<SealedFile>}
 */
export async function sealFile(source, options = {}) {
  const size = sizeOf(source, options.size);
  const key = options.key ?? newAttachmentKey();
  const sealer = new BlobEncryptor(size, key, { header: options.header });
  const hasher = await sha256Hasher();
  const parts = [sealer.header];
  let done = 0;
  for await (const piece of piecesOf(source)) {
    parts.push(...sealer.update(piece));
    done += piece.length;
    options.onProgress?.({ phase: 'encrypting', done, total: size });
  }
  parts.push(...sealer.finish());
  let length = 0;
  for (const part of parts) {
    hasher.update(part);
    length += part.length;
  }
  return { parts, length, key, sha256: hasher.digest(), size };
}

/** @param {Response} response */
async function problemOf(response) {
  let body = {};
  try {
    const parsed = JSON.parse(await response.text());
    if (typeof parsed === 'object' && parsed !== null) body = parsed;
  } catch {
    // not problem+json (e.g. a proxy's page): the status alone speaks
  }
  const header = response.headers.get('Retry-After');
  const retryAfter = header !== null && /^\d+$/.test(header.trim()) ? Number(header) : null;
  return new HavenApiError(response.status, body, retryAfter);
}

/**
 * One authorized request with a body the JSON transport does not send; a 401 refreshes once.
 * @param {import('./transport.js').Transport} transport
 * @param {string} method @param {string} path @param {RequestInit} init
 */
async function authorized(transport, method, path, init) {
  const attempt = async (/** @type {string} */ token) =>
    /** @type {Response} */ (
      await transport._fetch(transport.baseUrl + path, {
        ...init,
        method,
        headers: { ...init.headers, Authorization: `Bearer ${token}` },
        credentials: 'omit',
      })
    );
  const token = await transport.accessToken();
  const response = await attempt(token);
  if (response.status !== 401) return response;
  await response.body?.cancel();
  await transport.refresh(token);
  return attempt(await transport.accessToken());
}

/** @param {string} value */
const seg = (value) => encodeURIComponent(value);

/**
 * Upload a sealed blob; `{attachment_id, size}`. The body is a `Blob` of the parts, so the browser
 * (or Node's fetch) sends its exact `Content-Length` — a streamed (chunked) body is refused (411).
 * @param {import('./transport.js').Transport} transport
 * @param {string} conversationId @param {Uint8Array[]} parts @returns {Promise<{attachment_id: string, size: number}>}
 */
export async function uploadBlob(transport, conversationId, parts) {
  const body = new Blob(/** @type {BlobPart[]} */ (parts), { type: 'application/octet-stream' });
  const response = await authorized(
    transport,
    'POST',
    `/v1/conversations/${seg(conversationId)}/attachments`,
    { body, headers: { 'Content-Type': 'application/octet-stream', Accept: 'application/json' } },
  );
  if (!response.ok) throw await problemOf(response);
  const answer = await response.json();
  if (typeof answer?.attachment_id !== 'string' || !answer.attachment_id)
    throw new HavenError('bad_answer', 'the upload answer has no attachment_id');
  return answer;
}

/**
 * Download, check and decrypt one file: its plaintext in pieces, only once every check passed.
 * @param {import('./transport.js').Transport} transport
 * @param {string} conversationId @param {AttachmentRef} ref
 * @param {{onProgress?: (p: Progress) => void}} [options]
 * @returns {Promise<Uint8Array[]>}
 */
export async function downloadFile(transport, conversationId, ref, options = {}) {
  const path = `/v1/conversations/${seg(conversationId)}/attachments/${seg(ref.attachmentId)}`;
  const response = await authorized(transport, 'GET', path, {
    headers: { Accept: 'application/octet-stream' },
  });
  if (!response.ok) throw await problemOf(response);
  const expected = blobLength(ref.size);
  const announced = response.headers.get('Content-Length');
  if (response.status !== 200 || (announced !== null && Number(announced) !== expected)) {
    await response.body?.cancel();
    throw new AttachmentError('the blob does not have the length its size gives');
  }
  const opener = await BlobDecryptor.open(ref);
  /** @type {Uint8Array[]} */
  const out = [];
  let done = 0;
  /** @param {Uint8Array} piece */
  const take = (piece) => {
    out.push(...opener.feed(piece));
    done += piece.length;
    options.onProgress?.({ phase: 'downloading', done, total: expected });
  };
  if (response.body) {
    const reader = response.body.getReader();
    try {
      for (;;) {
        const { done: ended, value } = await reader.read();
        if (ended) break;
        take(value);
      }
    } catch (error) {
      await reader.cancel().catch(() => {});
      throw error;
    }
  } else {
    take(new Uint8Array(await response.arrayBuffer()));
  }
  out.push(...opener.finish());
  return out;
}

/**
 * Seal and upload one file; its reference for the message payload.
 * @param {import('./transport.js').Transport} transport
 * @param {string} conversationId @param {FileSource} file
 * @param {{name?: string, mime?: string, size?: number, durationMs?: number | null, onProgress?: (p: Progress) => void}} [options]
 * @returns {Promise<AttachmentRef>}
 */
export async function uploadAttachment(transport, conversationId, file, options = {}) {
  const isBlob = typeof Blob !== 'undefined' && file instanceof Blob;
  const named = isBlob && 'name' in file && typeof file.name === 'string' ? file.name : '';
  const size = sizeOf(file, options.size);
  const described = {
    mime: options.mime || (isBlob ? file.type : '') || 'application/octet-stream',
    name: options.name ?? named,
    size,
    durationMs: options.durationMs ?? null,
  };
  // The reference must be one a receiver accepts: checked before any byte is sealed or sent.
  const placeholder = new Uint8Array(KEY_BYTES);
  attachmentToPayload({ attachmentId: '-', key: placeholder, sha256: placeholder, ...described });
  const sealed = await sealFile(file, { size, onProgress: options.onProgress });
  options.onProgress?.({ phase: 'uploading', done: 0, total: sealed.length });
  const answer = await uploadBlob(transport, conversationId, sealed.parts);
  options.onProgress?.({ phase: 'uploading', done: sealed.length, total: sealed.length });
  return {
    attachmentId: answer.attachment_id,
    key: sealed.key,
    sha256: sealed.sha256,
    ...described,
  };
}

/**
 * Download and open one file as a `Blob` (`type` defaults to `application/octet-stream`).
 * @param {import('./transport.js').Transport} transport
 * @param {string} conversationId @param {AttachmentRef} ref
 * @param {{type?: string, onProgress?: (p: Progress) => void}} [options]
 * @returns {Promise<Blob>}
 */
export async function openAttachment(transport, conversationId, ref, options = {}) {
  const parts = await downloadFile(transport, conversationId, ref, options);
  return new Blob(/** @type {BlobPart[]} */ (parts), {
    type: options.type ?? 'application/octet-stream',
  });
}
