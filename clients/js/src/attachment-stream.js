/**
 * Attachment blobs, byte-exact with docs/attachments.md and tests/vectors/attachments.json: the
 * plaintext is zero-padded to its Padmé length (at least 1 KiB), cut into 64 KiB chunks and sealed
 * with libsodium's crypto_secretstream_xchacha20poly1305 under a fresh 32-byte key; the blob is
 * `header(24) ‖ chunk_1 ‖ … ‖ chunk_n`, the last chunk tagged FINAL. Both directions work a chunk
 * at a time. Opening fails hard on any check: length, SHA-256, each chunk's tag, FINAL last, zero
 * padding — the output of a `BlobDecryptor` counts only once `finish()` returned.
 */
import { HavenError } from './errors.js';
import { sodium } from './sodium.js';
import { sha256Hasher } from './sha256.js';

export const KEY_BYTES = 32;
export const HEADER_BYTES = 24;
export const ABYTES = 17;
export const CHUNK_PLAIN = 64 * 1024;
export const CHUNK_CIPHER = CHUNK_PLAIN + ABYTES;
export const MIN_PADDED = 1024;

/** A blob or reference that fails a check: tampered, truncated, wrong hash or size. */
export class AttachmentError extends HavenError {
  /** @param {string} message */
  constructor(message) {
    super('attachment_unreadable', message);
    this.name = 'AttachmentError';
  }
}

/** @param {number} n a positive safe integer @returns {number} its number of binary digits */
function bitLength(n) {
  return n.toString(2).length;
}

/** @param {unknown} size @returns {number} */
function checkedSize(size) {
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
    throw new AttachmentError('a size is a non-negative integer');
  return size;
}

/**
 * Padmé (Nikitin et al. 2019): round up so the mantissa is no longer than the exponent. Integer
 * arithmetic only (a power-of-two step), exact for every safe integer.
 * @param {number} length
 */
export function padme(length) {
  checkedSize(length);
  if (length < 2) return length;
  const exponent = bitLength(length) - 1;
  const step = 2 ** (exponent - bitLength(exponent));
  return Math.ceil(length / step) * step;
}

/** The plaintext length after padding: Padmé of the size, at least 1 KiB. @param {number} size */
export function paddedLength(size) {
  return padme(Math.max(checkedSize(size), MIN_PADDED));
}

/** The exact stored size of a file of `size` bytes. @param {number} size */
export function blobLength(size) {
  const padded = paddedLength(size);
  return HEADER_BYTES + padded + Math.ceil(padded / CHUNK_PLAIN) * ABYTES;
}

/** @returns {Uint8Array} a fresh per-file key, never reused for another file */
export function newAttachmentKey() {
  return sodium().randombytes_buf(KEY_BYTES);
}

/** @param {Uint8Array} key */
function checkKey(key) {
  if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES)
    throw new AttachmentError('an attachment key is 32 bytes');
}

/**
 * Seals a file of a declared size: `update` with its bytes in any pieces, then `finish`; each
 * returns the sealed chunks it completed. The first thing to upload is `header`.
 */
export class BlobEncryptor {
  /**
   * @param {number} size the true plaintext length (checked against what arrives)
   * @param {Uint8Array} key
   * @param {{header?: Uint8Array}} [options] a fixed header: for test vectors only
   */
  constructor(size, key, options = {}) {
    checkKey(key);
    const lib = sodium();
    this._size = checkedSize(size);
    this._padded = paddedLength(size);
    if (options.header === undefined) {
      const pushed = lib.crypto_secretstream_xchacha20poly1305_init_push(key);
      this._state = pushed.state;
      /** @type {Uint8Array} */
      this.header = pushed.header;
    } else {
      // init_pull derives exactly the state init_push derives from that header (as the Python
      // reference does for its vectors): the output is then byte-stable.
      if (!(options.header instanceof Uint8Array) || options.header.length !== HEADER_BYTES)
        throw new AttachmentError('a secretstream header is 24 bytes');
      this._state = lib.crypto_secretstream_xchacha20poly1305_init_pull(options.header, key);
      this.header = options.header.slice();
    }
    this._chunk = new Uint8Array(CHUNK_PLAIN);
    this._fill = 0;
    this._seen = 0;
    this._sealed = 0;
  }

  /** @param {Uint8Array} piece the next bytes of the file @returns {Uint8Array[]} sealed chunks */
  update(piece) {
    this._seen += piece.length;
    if (this._seen > this._size)
      throw new AttachmentError('the file is longer than its declared size');
    /** @type {Uint8Array[]} */
    const out = [];
    let offset = 0;
    while (offset < piece.length) {
      const take = Math.min(piece.length - offset, CHUNK_PLAIN - this._fill);
      this._chunk.set(piece.subarray(offset, offset + take), this._fill);
      this._fill += take;
      offset += take;
      if (this._fill === CHUNK_PLAIN) out.push(this._seal());
    }
    return out;
  }

  /** The zero padding and the FINAL chunk. @returns {Uint8Array[]} */
  finish() {
    if (this._seen !== this._size)
      throw new AttachmentError('the file is shorter than its declared size');
    /** @type {Uint8Array[]} */
    const out = [];
    while (this._sealed < this._padded) {
      const end = Math.min(CHUNK_PLAIN, this._padded - this._sealed);
      this._chunk.fill(0, this._fill, end);
      this._fill = end;
      out.push(this._seal());
    }
    return out;
  }

  _seal() {
    const plain = this._chunk.subarray(0, this._fill);
    this._sealed += this._fill;
    const lib = sodium();
    const tag =
      this._sealed === this._padded
        ? lib.crypto_secretstream_xchacha20poly1305_TAG_FINAL
        : lib.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
    const sealed = lib.crypto_secretstream_xchacha20poly1305_push(this._state, plain, null, tag);
    this._fill = 0;
    return sealed;
  }
}

/**
 * The blob of a file, piece by piece: the header, then one sealed chunk per 64 KiB.
 * @param {AsyncIterable<Uint8Array> | Iterable<Uint8Array>} source the file's bytes in any pieces
 * @param {number} size @param {Uint8Array} key @param {{header?: Uint8Array}} [options]
 * @returns {AsyncGenerator<Uint8Array>}
 */
export async function* encryptStream(source, size, key, options = {}) {
  const sealer = new BlobEncryptor(size, key, options);
  yield sealer.header;
  for await (const piece of source) yield* sealer.update(piece);
  yield* sealer.finish();
}

/**
 * The whole blob of a file held in memory.
 * @param {Uint8Array} plaintext @param {Uint8Array} key @param {{header?: Uint8Array}} [options]
 */
export function encryptBytes(plaintext, key, options = {}) {
  const sealer = new BlobEncryptor(plaintext.length, key, options);
  const parts = [sealer.header, ...sealer.update(plaintext), ...sealer.finish()];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * Checks and opens a blob fed in arbitrary pieces; `finish` must be called and must pass before any
 * output counts. Chunk boundaries and the FINAL one follow from the reference's size, so each chunk
 * opens as soon as its bytes are in.
 */
export class BlobDecryptor {
  /**
   * Use `BlobDecryptor.open(ref)` (it loads the SHA-256).
   * @param {{key: Uint8Array, sha256: Uint8Array, size: number}} ref
   * @param {import('./sha256.js').Sha256} hasher
   */
  constructor(ref, hasher) {
    checkKey(ref.key);
    this._ref = ref;
    this._hash = hasher;
    this._expected = blobLength(ref.size);
    const padded = paddedLength(ref.size);
    this._chunks = Math.ceil(padded / CHUNK_PLAIN);
    this._lastCipher = padded - (this._chunks - 1) * CHUNK_PLAIN + ABYTES;
    this._received = 0;
    /** @type {any} */
    this._state = null;
    this._buffer = new Uint8Array(CHUNK_CIPHER);
    this._fill = 0;
    this._opened = 0;
    this._written = 0;
    this._failed = false;
  }

  /** @param {{key: Uint8Array, sha256: Uint8Array, size: number}} ref */
  static async open(ref) {
    return new BlobDecryptor(ref, await sha256Hasher());
  }

  /** @param {Uint8Array} data the next bytes as downloaded @returns {Uint8Array[]} plaintext released (padding trimmed) */
  feed(data) {
    this._alive();
    try {
      return this._feed(data);
    } catch (error) {
      this._failed = true;
      throw error;
    }
  }

  /** @returns {Uint8Array[]} the last plaintext; throws unless the blob was whole, untampered and hashed right */
  finish() {
    this._alive();
    this._failed = true; // used up either way
    if (this._received !== this._expected || this._opened !== this._chunks)
      throw new AttachmentError('the blob is truncated');
    const digest = this._hash.digest();
    if (digest.length !== this._ref.sha256.length || !sodium().memcmp(digest, this._ref.sha256))
      throw new AttachmentError("the blob's SHA-256 does not match the message");
    if (this._written !== this._ref.size) throw new AttachmentError('the blob ended early');
    return [];
  }

  _alive() {
    if (this._failed) throw new AttachmentError('this blob was already refused or finished');
  }

  /** @param {Uint8Array} data */
  _feed(data) {
    this._received += data.length;
    if (this._received > this._expected)
      throw new AttachmentError('the blob is longer than its size allows');
    this._hash.update(data);
    /** @type {Uint8Array[]} */
    const out = [];
    let offset = 0;
    while (offset < data.length) {
      const want = this._want();
      const take = Math.min(data.length - offset, want - this._fill);
      this._buffer.set(data.subarray(offset, offset + take), this._fill);
      this._fill += take;
      offset += take;
      if (this._fill < want) break;
      const whole = this._buffer.subarray(0, want);
      this._fill = 0;
      if (this._state === null) {
        this._state = sodium().crypto_secretstream_xchacha20poly1305_init_pull(
          whole,
          this._ref.key,
        );
        continue;
      }
      const plain = this._open(whole);
      if (plain.length) out.push(plain);
    }
    return out;
  }

  /** @returns {number} the length of the next unit: the header, a chunk, or the shorter last chunk */
  _want() {
    if (this._state === null) return HEADER_BYTES;
    if (this._opened >= this._chunks) throw new AttachmentError('data after the final chunk');
    return this._opened === this._chunks - 1 ? this._lastCipher : CHUNK_CIPHER;
  }

  /** @param {Uint8Array} chunk */
  _open(chunk) {
    const final = this._opened === this._chunks - 1;
    const lib = sodium();
    /** @type {{message: Uint8Array, tag: number} | false} */
    let opened;
    try {
      // Typed as `true | …` by the library, it answers `false` for a chunk that does not open.
      opened = /** @type {any} */ (
        lib.crypto_secretstream_xchacha20poly1305_pull(this._state, chunk, null)
      );
    } catch {
      opened = false;
    }
    if (!opened || typeof opened !== 'object')
      throw new AttachmentError('a chunk of the blob does not authenticate');
    if ((opened.tag === lib.crypto_secretstream_xchacha20poly1305_TAG_FINAL) !== final)
      throw new AttachmentError("the blob's final chunk is misplaced");
    this._opened += 1;
    const plain = opened.message;
    const keep = Math.max(0, Math.min(plain.length, this._ref.size - this._written));
    for (let i = keep; i < plain.length; i++) {
      if (plain[i] !== 0) throw new AttachmentError('the padding is not zero');
    }
    this._written += keep;
    return keep === plain.length ? plain : plain.slice(0, keep);
  }
}

/**
 * Open a whole blob held in memory, with every check of `BlobDecryptor`.
 * @param {Uint8Array} blob @param {{key: Uint8Array, sha256: Uint8Array, size: number}} ref
 * @returns {Promise<Uint8Array>}
 */
export async function decryptBytes(blob, ref) {
  const opener = await BlobDecryptor.open(ref);
  const parts = [...opener.feed(blob), ...opener.finish()];
  const out = new Uint8Array(ref.size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
