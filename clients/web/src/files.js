/** Files and voice notes, the pure part: what a message lists, how each is shown (an image, a voice
 * note, or a file to save), the type its decrypted bytes get, sizes and durations for people, the
 * recording format. The sender's claimed type is never trusted:
 * only a short list of image and audio types is rendered, everything else is saved as bytes. */
import { attachmentsFromPayload } from 'haven-sdk';

/**
 * @typedef {object} FileRef one file a message lists (the SDK's AttachmentRef)
 * @property {string} attachmentId
 * @property {Uint8Array} key
 * @property {Uint8Array} sha256
 * @property {string} mime as the sender claimed it
 * @property {string} name as the sender named it
 * @property {number} size
 * @property {number | null} durationMs voice notes only
 */

/** Shown inline (after decryption, from a blob: URL); never SVG, which can carry script. */
const IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);
/** Played in an <audio> element: what browsers record and commonly play. */
const AUDIO_TYPES = new Set(['audio/webm', 'audio/ogg', 'audio/mp4', 'audio/mpeg', 'audio/aac', 'audio/wav']);
/** What MediaRecorder is asked for, best first (Safari records mp4 only). */
export const RECORDING_TYPES = ['audio/webm;codecs=opus', 'audio/ogg;codecs=opus', 'audio/mp4'];

/**
 * The files of a message (SDK MessageView or history item); a payload whose `attachments` do not
 * pass the SDK's strict check is flagged, never silently dropped.
 * @param {any} raw
 * @returns {{files: FileRef[], filesUnreadable: boolean}}
 */
export function filesOf(raw) {
  const payload = raw?.payload;
  if (!payload || typeof payload !== 'object') return { files: [], filesUnreadable: false };
  try {
    return { files: attachmentsFromPayload(payload), filesUnreadable: false };
  } catch {
    return { files: [], filesUnreadable: true };
  }
}

/** @param {string} mime @returns {string} the type without parameters, lower case */
export function baseType(mime) {
  return String(mime).split(';')[0].trim().toLowerCase();
}

/**
 * @param {FileRef} ref
 * @returns {'image' | 'audio' | 'file'}
 */
export function kindOf(ref) {
  const type = baseType(ref.mime);
  if (IMAGE_TYPES.has(type)) return 'image';
  if (AUDIO_TYPES.has(type)) return 'audio';
  return 'file';
}

/**
 * The type the decrypted Blob gets: a listed image or audio type, else opaque bytes (so a blob:
 * URL can never be opened as a page of this origin).
 * @param {FileRef} ref
 */
export function blobType(ref) {
  return kindOf(ref) === 'file' ? 'application/octet-stream' : baseType(ref.mime);
}

/**
 * A size for people: "812 bytes", "64 kB", "3.4 MB".
 * @param {number} bytes
 * @param {string} lang
 */
export function fileSize(bytes, lang) {
  if (bytes < 1000)
    return new Intl.NumberFormat(lang, { style: 'unit', unit: 'byte', unitDisplay: 'long' }).format(bytes);
  const [value, unit] = bytes < 1e6 ? [bytes / 1e3, 'kilobyte'] : [bytes / 1e6, 'megabyte'];
  return new Intl.NumberFormat(lang, { style: 'unit', unit, maximumFractionDigits: value < 10 ? 1 : 0 }).format(value);
}

/**
 * A duration as minutes and seconds: "0:04", "12:30".
 * @param {number} ms
 */
export function clock(ms) {
  const seconds = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
}

/**
 * The first recording type the browser supports ('' lets the browser choose).
 * @param {(type: string) => boolean} supported MediaRecorder.isTypeSupported
 */
export function recordingType(supported) {
  return RECORDING_TYPES.find((type) => supported(type)) ?? '';
}

/**
 * A voice note's file name from its type and the time it was recorded.
 * @param {string} mime
 * @param {Date} when
 */
export function voiceName(mime, when) {
  const type = baseType(mime);
  const ext = type === 'audio/ogg' ? 'ogg' : type === 'audio/mp4' ? 'm4a' : 'webm';
  const stamp = when.toISOString().slice(0, 19).replace(/[:T]/g, '-');
  return `voice-note-${stamp}.${ext}`;
}

const UNSAFE = /[<>:"|?*\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;
const RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i;
const MAX_NAME = 120;

/**
 * A sender-chosen name made harmless for showing and saving, by the rule of the Python SDK's
 * `safe_name` (docs/attachments.md): the last component only, no control, format or path
 * characters (so no right-to-left trick can dress `exe` up as `pdf`), no leading dots or
 * trailing dots/spaces, no Windows device names, at most 120 characters keeping the extension,
 * `file` when nothing is left. The browser's download adds its own rules on top.
 * @param {unknown} name
 */
export function safeName(name) {
  let text = (typeof name === 'string' ? name : '').normalize('NFC');
  text = text.split(/[/\\]/).at(-1) ?? '';
  text = text
    .replace(UNSAFE, '_')
    .trim()
    .replace(/^\.+/, '')
    .replace(/[. ]+$/, '');
  if (RESERVED.test(text)) text = `_${text}`;
  if (text.length > MAX_NAME) {
    const dot = text.lastIndexOf('.');
    const ext = dot > 0 && text.length - dot <= 17 ? text.slice(dot) : '';
    text = text.slice(0, MAX_NAME - ext.length).replace(/[. ]+$/, '') + ext;
  }
  return text || 'file';
}
