/** The composer's file and voice-note controls: pick a file (name and size shown, removable),
 * or record a voice note with the browser's MediaRecorder (record, stop, cancel; the time shown;
 * a preview to listen to before sending). The chat sends what is chosen: `uploadChosen` encrypts
 * and uploads it through the SDK, then the message lists it. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { html } from '../html.js';
import { t, locale } from '../i18n/index.js';
import { clock, fileSize, recordingType, safeName, voiceName } from '../files.js';
import { refusalLine } from './banners.js';

/** A voice note stops by itself after ten minutes. */
const MAX_RECORDING_MS = 10 * 60_000;

/**
 * @typedef {object} Chosen a file or voice note waiting in the composer
 * @property {Blob} blob
 * @property {string} name
 * @property {string} mime
 * @property {number} size
 * @property {number | null} durationMs voice notes
 */

/**
 * @typedef {object} Progress
 * @property {'encrypting' | 'uploading' | 'downloading'} phase
 * @property {number} done
 * @property {number} total
 */

/**
 * Encrypt and upload what the composer holds; the reference for `client.send(…, {attachments})`.
 * @param {any} client @param {string} conversationId @param {Chosen} chosen
 * @param {(p: Progress) => void} onProgress
 */
export function uploadChosen(client, conversationId, chosen, onProgress) {
  return client.uploadAttachment(conversationId, chosen.blob, {
    name: chosen.name,
    mime: chosen.mime,
    durationMs: chosen.durationMs,
    onProgress,
  });
}

/** The busy line while a file goes out. @param {{progress: Progress}} props */
export function SendingFile({ progress }) {
  const encrypting = progress.phase === 'encrypting';
  return html`<p class="notice sending-file" role="status">
    <label for="file-progress">${encrypting ? t('chat.fileEncrypting') : t('chat.fileUploading')}</label>
    ${' '}
    <progress
      id="file-progress"
      max=${encrypting ? progress.total || 1 : undefined}
      value=${encrypting ? progress.done : undefined}
    ></progress>
  </p>`;
}

/**
 * @param {{chosen: Chosen | null, choose: (c: Chosen | null) => void, disabled: boolean, announce: (text: string) => void, problem: (line: string) => void, recordingNow: (on: boolean) => void}} props
 *   `recordingNow`: the chat holds Send while a voice note is being recorded
 */
export function ComposerFiles({ chosen, choose, disabled, announce, problem, recordingNow }) {
  const picker = useRef(/** @type {HTMLInputElement | null} */ (null));
  const recorder = useRecorder(choose, announce, problem);
  useEffect(() => recordingNow(recorder.recording), [recorder.recording]);

  /** @param {Event} event */
  function picked(event) {
    const input = /** @type {HTMLInputElement} */ (event.target);
    const file = input.files?.[0];
    input.value = '';
    if (!file) return;
    choose({
      blob: file,
      name: file.name,
      mime: file.type || 'application/octet-stream',
      size: file.size,
      durationMs: null,
    });
  }

  if (recorder.recording) {
    return html`<div class="row recording">
      <p role="timer" class="recording-time">
        <span class="dot" aria-hidden="true"></span>
        ${t('chat.recording', { time: clock(Math.floor(recorder.elapsedMs / 1000) * 1000) })}
      </p>
      <button type="button" onClick=${recorder.stop}>${t('chat.stopRecording')}</button>
      <button type="button" class="quiet" onClick=${recorder.cancel}>${t('chat.cancelRecording')}</button>
    </div>`;
  }
  if (chosen) return html`<${ChosenFile} chosen=${chosen} remove=${() => choose(null)} />`;
  const canRecord = typeof MediaRecorder !== 'undefined' && Boolean(navigator.mediaDevices?.getUserMedia);
  return html`<div class="row attach">
    <input
      ref=${picker}
      id="attach-file"
      type="file"
      class="visually-hidden"
      tabindex="-1"
      aria-label=${t('chat.attach')}
      onChange=${picked}
    />
    <button type="button" class="quiet" disabled=${disabled} onClick=${() => picker.current?.click()}>
      ${t('chat.attach')}
    </button>
    ${
      canRecord &&
      html`<button type="button" class="quiet" disabled=${disabled} onClick=${recorder.start}>
        ${t('chat.record')}
      </button>`
    }
  </div>`;
}

/** What waits to be sent, with a preview for a voice note. @param {{chosen: Chosen, remove: () => void}} props */
function ChosenFile({ chosen, remove }) {
  const [preview, setPreview] = useState('');
  useEffect(() => {
    if (chosen.durationMs == null) return undefined;
    const url = URL.createObjectURL(chosen.blob);
    setPreview(url);
    return () => URL.revokeObjectURL(url);
  }, [chosen]);
  const what =
    chosen.durationMs != null
      ? t('chat.voiceNote', { time: clock(chosen.durationMs) })
      : t('chat.chosenFile', { name: safeName(chosen.name), size: fileSize(chosen.size, locale()) });
  return html`<div class="row chosen">
    <p class="chosen-name">${what}</p>
    ${preview && html`<audio controls src=${preview} aria-label=${t('chat.previewVoice')}></audio>`}
    <button type="button" class="link" onClick=${remove}>${t('chat.removeFile')}</button>
  </div>`;
}

/**
 * MediaRecorder behind three buttons; the finished note becomes the composer's choice.
 * @param {(c: Chosen | null) => void} choose @param {(text: string) => void} announce @param {(line: string) => void} problem
 */
function useRecorder(choose, announce, problem) {
  const [recording, setRecording] = useState(false);
  const [elapsedMs, setElapsed] = useState(0);
  /** @type {import('preact').RefObject<{recorder: MediaRecorder, stream: MediaStream, started: number, keep: boolean, timer: ReturnType<typeof setInterval>} | null>} */
  const session = useRef(null);

  useEffect(() => () => finish(false), []);

  /** @param {boolean} keep */
  function finish(keep) {
    const current = session.current;
    if (!current) return;
    current.keep = keep;
    clearInterval(current.timer);
    if (current.recorder.state !== 'inactive') current.recorder.stop();
    else current.stream.getTracks().forEach((track) => track.stop());
  }

  async function start() {
    problem('');
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch {
      problem(t('notice.micUnavailable'));
      return;
    }
    const type = recordingType((candidate) => MediaRecorder.isTypeSupported(candidate));
    const recorder = new MediaRecorder(stream, type ? { mimeType: type } : undefined);
    /** @type {Blob[]} */
    const chunks = [];
    const started = performance.now();
    const timer = setInterval(() => {
      const ms = performance.now() - started;
      setElapsed(ms);
      if (ms >= MAX_RECORDING_MS) finish(true);
    }, 250);
    const current = { recorder, stream, started, keep: false, timer };
    session.current = current;
    recorder.ondataavailable = (event) => {
      if (event.data.size) chunks.push(event.data);
    };
    recorder.onstop = () => {
      stream.getTracks().forEach((track) => track.stop());
      session.current = null;
      setRecording(false);
      if (!current.keep) return;
      const mime = recorder.mimeType || type || 'audio/webm';
      const blob = new Blob(chunks, { type: mime });
      const durationMs = Math.max(1, Math.round(performance.now() - started));
      choose({ blob, name: voiceName(mime, new Date()), mime, size: blob.size, durationMs });
      announce(t('chat.voiceReady'));
    };
    recorder.start(1000);
    setElapsed(0);
    setRecording(true);
    announce(t('chat.recordingStarted'));
  }

  return {
    recording,
    elapsedMs,
    start,
    stop: () => finish(true),
    cancel: () => {
      finish(false);
      announce(t('chat.recordingCancelled'));
    },
  };
}

/**
 * The catalogue line for a file that could not be uploaded (never the server's text). A refusal
 * sent before the body was read can reach the browser as a dropped connection (the gateway closes
 * it rather than read a body it refused), so a lost connection mid-upload says both.
 * @param {any} error
 */
export function uploadProblem(error) {
  const code = error?.code ?? '';
  if (code === 'quota_exceeded') return t('notice.fileQuota');
  if (code === 'payload_too_large' || error?.status === 413) return t('notice.fileTooLarge');
  if (error instanceof TypeError) return t('notice.fileNotUploaded');
  if (code === 'rate_limited' || error?.status === 429) return t('notice.tooManyTries');
  return refusalLine(code);
}
