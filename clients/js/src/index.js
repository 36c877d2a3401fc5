/** haven-sdk: the public surface (see README.md). Everything else in src/ is internal. */
export { sodiumReady } from './sodium.js';
export { b64d, b64e } from './encoding.js';
export {
  ALG,
  deviceKeysFromSecrets,
  generateDeviceKeys,
  kxSignatureInput,
  loginProofInput,
  signKx,
  signLoginProof,
  verifyKxSignature,
  verifyLoginProof,
} from './crypto.js';
export {
  buildAad,
  computeCommitment,
  envelopeFromWire,
  envelopeToWire,
  keysBlock,
  openEnvelope,
  seal,
  signatureInput,
  verifyEnvelope,
} from './envelope.js';
export { groupSafetyNumber, normalizeSafetyNumber, safetyNumber } from './safety-number.js';
export { CryptoError, HavenApiError, HavenError, UntrustedDevice } from './errors.js';
export { HavenApi } from './api.js';
export { MemoryKeyStore, STATE_VERSION, openState, sealState } from './keystore.js';
export { HavenClient } from './client.js';
export { PAUSE_TEMPLATES } from './templates.js';
export { newRecoveryKey } from './history.js';
export {
  RecoveryKeyMalformed,
  decodeRecoveryKey,
  encodeRecoveryKey,
  groupRecoveryKey,
} from './recovery-key.js';
export { linkCode, normalizeLinkCode } from './link.js';
export {
  ABYTES,
  AttachmentError,
  BlobDecryptor,
  BlobEncryptor,
  CHUNK_PLAIN,
  HEADER_BYTES,
  blobLength,
  decryptBytes,
  encryptBytes,
  encryptStream,
  newAttachmentKey,
  padme,
  paddedLength,
} from './attachment-stream.js';
export {
  MAX_ATTACHMENTS,
  attachmentFromPayload,
  attachmentToPayload,
  attachmentsFromPayload,
  downloadFile,
  sealFile,
  uploadBlob,
} from './attachments.js';
