/**
 * The haven-v1 envelope, byte-exact with API.md: `seal` for senders, `verifyEnvelope` as the
 * gateway checks it, `openEnvelope` for receivers (steps 1-4; step 5, dedupe, is the client's).
 * Callers vouch that recipients' kx keys passed `verifyKxSignature` under their handle and that
 * `conversationId` comes from their own record, never from a server field.
 */
import {
  ALG,
  KEY_BYTES,
  NONCE_BYTES,
  SIGNATURE_BYTES,
  TAG_BYTES,
  WRAPPED_KEY_BYTES,
  aeadDecrypt,
  aeadEncrypt,
  blake2b,
  boxUnwrap,
  boxWrap,
  constantTimeEqual,
  randomBytes,
  requireLength,
  sha512,
  signDetached,
  verifyDetached,
} from './crypto.js';
import { CryptoError } from './errors.js';
import { b64d, b64e, compareBytes, concat, utf8 } from './encoding.js';

export const COMMITMENT_BYTES = 32;
const MESSAGE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const SERVER_ID = /^[A-Za-z0-9_-]{1,128}$/;
const ALG_NAME = /^[a-z0-9-]{1,32}$/;
const WIRE_FIELDS = [
  'message_id',
  'sender_device_id',
  'alg',
  'urgent',
  'nonce',
  'ciphertext',
  'keys',
  'commitment',
  'signature',
];
const SIG_CONTEXT = utf8('haven-v1-sig\0');
const COMMIT_CONTEXT = utf8('haven-v1-commit\0');
const NUL = new Uint8Array([0]);

/**
 * One sealed message; binary fields are raw bytes.
 * @typedef {object} Envelope
 * @property {string} messageId
 * @property {string} senderDeviceId
 * @property {string} alg
 * @property {boolean} urgent
 * @property {Uint8Array} nonce
 * @property {Uint8Array} ciphertext
 * @property {Map<string, Uint8Array>} keys device id → 72-byte wrapped content key
 * @property {Uint8Array} commitment
 * @property {Uint8Array} signature
 */

/**
 * @typedef {object} WireEnvelope the JSON shape of API.md's `envelope` (plus `commitment`)
 * @property {string} message_id
 * @property {string} sender_device_id
 * @property {string} alg
 * @property {boolean} urgent
 * @property {string} nonce
 * @property {string} ciphertext
 * @property {Record<string, string>} keys
 * @property {string} commitment
 * @property {string} signature
 */

/** @param {string} field @param {unknown} value @param {RegExp} pattern @returns {string} */
function matching(field, value, pattern) {
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new CryptoError(`${field} is malformed`, field);
  }
  return value;
}

/** @param {string} field @param {unknown} value @param {number | null} size @returns {Uint8Array} */
function binary(field, value, size) {
  let raw;
  try {
    raw = b64d(value);
  } catch {
    throw new CryptoError(`${field} is not canonical base64url`, field);
  }
  if (size !== null && raw.length !== size)
    throw new CryptoError(`${field} must be ${size} bytes`, field);
  if (size === null && raw.length < TAG_BYTES) {
    throw new CryptoError(`${field} is shorter than an AEAD tag`, field);
  }
  return raw;
}

/** @param {string} value @returns {boolean} a canonical lowercase UUIDv4 */
export function isMessageId(value) {
  return MESSAGE_ID.test(value);
}

/**
 * Parse strictly: exact field set, JSON types, canonical base64url, exact sizes.
 * @param {unknown} data @returns {Envelope}
 */
export function envelopeFromWire(data) {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new CryptoError('envelope must be a JSON object', 'envelope');
  }
  const record = /** @type {Record<string, unknown>} */ (data);
  const names = Object.keys(record);
  const odd = names.filter((n) => !WIRE_FIELDS.includes(n));
  const missing = WIRE_FIELDS.filter((n) => !names.includes(n));
  if (odd.length || missing.length) {
    throw new CryptoError(
      `missing fields [${missing}], unknown fields [${odd}]`,
      odd[0] ?? missing[0],
    );
  }
  if (typeof record.urgent !== 'boolean')
    throw new CryptoError('urgent must be a boolean', 'urgent');
  const wireKeys = record.keys;
  if (typeof wireKeys !== 'object' || wireKeys === null || Array.isArray(wireKeys)) {
    throw new CryptoError('keys must be a non-empty JSON object', 'keys');
  }
  const keys = new Map();
  for (const [device, box] of Object.entries(wireKeys)) {
    matching('keys', device, SERVER_ID);
    keys.set(device, binary(`keys.${device}`, box, WRAPPED_KEY_BYTES));
  }
  if (keys.size === 0) throw new CryptoError('keys must be a non-empty JSON object', 'keys');
  return {
    messageId: matching('message_id', record.message_id, MESSAGE_ID),
    senderDeviceId: matching('sender_device_id', record.sender_device_id, SERVER_ID),
    alg: matching('alg', record.alg, ALG_NAME),
    urgent: record.urgent,
    nonce: binary('nonce', record.nonce, NONCE_BYTES),
    ciphertext: binary('ciphertext', record.ciphertext, null),
    keys,
    commitment: binary('commitment', record.commitment, COMMITMENT_BYTES),
    signature: binary('signature', record.signature, SIGNATURE_BYTES),
  };
}

/** @param {Map<string, Uint8Array>} keys @returns {[string, Uint8Array][]} in UTF-8 byte order */
function ordered(keys) {
  return [...keys.entries()].sort((a, b) => compareBytes(utf8(a[0]), utf8(b[0])));
}

/** @param {Envelope} envelope @returns {WireEnvelope} */
export function envelopeToWire(envelope) {
  /** @type {Record<string, string>} */
  const keys = {};
  for (const [device, box] of ordered(envelope.keys)) keys[device] = b64e(box);
  return {
    message_id: envelope.messageId,
    sender_device_id: envelope.senderDeviceId,
    alg: envelope.alg,
    urgent: envelope.urgent,
    nonce: b64e(envelope.nonce),
    ciphertext: b64e(envelope.ciphertext),
    keys,
    commitment: b64e(envelope.commitment),
    signature: b64e(envelope.signature),
  };
}

/**
 * AEAD associated data; the id formats exclude NUL, so the encoding is injective.
 * @param {string} conversationId @param {string} messageId @param {string} senderDeviceId
 * @returns {Uint8Array}
 */
export function buildAad(conversationId, messageId, senderDeviceId) {
  matching('conversation_id', conversationId, SERVER_ID);
  matching('message_id', messageId, MESSAGE_ID);
  matching('sender_device_id', senderDeviceId, SERVER_ID);
  return utf8([ALG, conversationId, messageId, senderDeviceId].join('\0'));
}

/** @param {Map<string, Uint8Array>} keys @returns {Uint8Array} */
export function keysBlock(keys) {
  return concat(
    ...ordered(keys).flatMap(([device, box]) => [
      utf8(device),
      NUL,
      requireLength('keys entry', box, WRAPPED_KEY_BYTES),
    ]),
  );
}

/**
 * Key commitment: XChaCha20-Poly1305 alone would let one ciphertext open two ways.
 * @param {Uint8Array} contentKey @param {Uint8Array} nonce @returns {Uint8Array}
 */
export function computeCommitment(contentKey, nonce) {
  requireLength('content key', contentKey, KEY_BYTES);
  const message = concat(COMMIT_CONTEXT, requireLength('nonce', nonce, NONCE_BYTES));
  return blake2b(message, COMMITMENT_BYTES, contentKey);
}

/**
 * The exact bytes the sender signs; `flags` binds the urgent bit.
 * @param {string} conversationId @param {Envelope} envelope @returns {Uint8Array}
 */
export function signatureInput(conversationId, envelope) {
  const aad = buildAad(conversationId, envelope.messageId, envelope.senderDeviceId);
  return concat(
    SIG_CONTEXT,
    aad,
    NUL,
    requireLength('nonce', envelope.nonce, NONCE_BYTES),
    sha512(envelope.ciphertext),
    sha512(keysBlock(envelope.keys)),
    requireLength('commitment', envelope.commitment, COMMITMENT_BYTES),
    new Uint8Array([envelope.urgent ? 1 : 0]),
  );
}

/**
 * @typedef {object} SealInput
 * @property {Uint8Array} payload
 * @property {string} conversationId
 * @property {string} messageId
 * @property {string} senderDeviceId
 * @property {Uint8Array} identitySecret the sender's 64-byte Ed25519 signing key
 * @property {Uint8Array} kxPrivate the sender's kx private key (the one its listing shows)
 * @property {Map<string, Uint8Array>} recipients device id → trusted kx public key, sender included
 * @property {boolean} urgent
 * @property {Uint8Array} [contentKey] test vectors only
 * @property {Uint8Array} [nonce] test vectors only
 * @property {Map<string, Uint8Array>} [boxNonces] test vectors only
 */

/**
 * Encrypt once, wrap the content key for every recipient device, sign.
 * @param {SealInput} input @returns {Envelope}
 */
export function seal(input) {
  const { conversationId, messageId, senderDeviceId, recipients } = input;
  if (!recipients.has(senderDeviceId)) {
    throw new CryptoError('recipients must include the sending device');
  }
  const key = input.contentKey ?? randomBytes(KEY_BYTES);
  const nonce = input.nonce ?? randomBytes(NONCE_BYTES);
  const aad = buildAad(conversationId, messageId, senderDeviceId);
  const keys = new Map();
  for (const [device, kxPublic] of recipients) {
    keys.set(device, boxWrap(key, input.kxPrivate, kxPublic, input.boxNonces?.get(device) ?? null));
  }
  /** @type {Envelope} */
  const envelope = {
    messageId,
    senderDeviceId,
    alg: ALG,
    urgent: input.urgent,
    nonce,
    ciphertext: aeadEncrypt(input.payload, aad, nonce, key),
    keys,
    commitment: computeCommitment(key, nonce),
    signature: new Uint8Array(0),
  };
  envelope.signature = signDetached(input.identitySecret, signatureInput(conversationId, envelope));
  return envelope;
}

/**
 * The gateway's check: known alg and a valid signature by the sending device.
 * @param {string} conversationId @param {Envelope} envelope @param {Uint8Array} identityPublic
 */
export function verifyEnvelope(conversationId, envelope, identityPublic) {
  if (envelope.alg !== ALG) throw new CryptoError(`unsupported alg ${envelope.alg}`, 'alg');
  let message;
  try {
    message = signatureInput(conversationId, envelope);
  } catch (error) {
    throw new CryptoError(`envelope cannot be verified: ${String(error)}`, 'signature');
  }
  if (!verifyDetached(identityPublic, message, envelope.signature)) {
    throw new CryptoError('envelope signature does not verify', 'signature');
  }
}

/**
 * @typedef {object} OpenInput
 * @property {string} conversationId from the receiver's own record
 * @property {string} ownDeviceId
 * @property {Uint8Array} ownKxPrivate
 * @property {Uint8Array} senderIdentityPublic
 * @property {Uint8Array} senderKxPublic
 */

/**
 * Receiver steps 1-4 of API.md; any failure throws `CryptoError` naming the field, never a partial.
 * @param {Envelope} envelope @param {OpenInput} input @returns {Uint8Array} the payload
 */
export function openEnvelope(envelope, input) {
  if (envelope.alg !== ALG) throw new CryptoError(`unsupported alg ${envelope.alg}`, 'alg');
  const wrapped = envelope.keys.get(input.ownDeviceId);
  if (wrapped === undefined)
    throw new CryptoError('this device is not among the recipients', 'keys');
  verifyEnvelope(input.conversationId, envelope, input.senderIdentityPublic);
  const contentKey = boxUnwrap(wrapped, input.ownKxPrivate, input.senderKxPublic);
  return decryptWithKey(envelope, input.conversationId, contentKey);
}

/**
 * Steps 1, 3 and 4 with a content key this device already opened once (a restore through the
 * backup key keeps them): the signature, the commitment and the aad are checked as ever.
 * @param {Envelope} envelope
 * @param {{conversationId: string, contentKey: Uint8Array, senderIdentityPublic: Uint8Array}} input
 * @returns {Uint8Array} the payload
 */
export function openEnvelopeWithKey(envelope, input) {
  if (envelope.alg !== ALG) throw new CryptoError(`unsupported alg ${envelope.alg}`, 'alg');
  verifyEnvelope(input.conversationId, envelope, input.senderIdentityPublic);
  return decryptWithKey(envelope, input.conversationId, input.contentKey);
}

/** @param {Envelope} envelope @param {string} conversationId @param {Uint8Array} contentKey */
function decryptWithKey(envelope, conversationId, contentKey) {
  if (
    contentKey.length !== KEY_BYTES ||
    !constantTimeEqual(computeCommitment(contentKey, envelope.nonce), envelope.commitment)
  ) {
    throw new CryptoError('content key does not match the signed commitment', 'commitment');
  }
  const aad = buildAad(conversationId, envelope.messageId, envelope.senderDeviceId);
  return aeadDecrypt(envelope.ciphertext, aad, envelope.nonce, contentKey);
}
