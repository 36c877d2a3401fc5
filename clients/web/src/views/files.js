/** The files of a message in the conversation view. Nothing is shown from the server's URL: every
 * file is downloaded, checked and decrypted by the SDK first, then shown from an object URL of the
 * decrypted bytes (revoked when it goes). Images and voice notes open by themselves, two at a
 * time; other files are saved on request under their original name. A file that fails any check
 * shows a calm line instead — never a partial file. */
import { useEffect, useState } from 'preact/hooks';
import { html } from '../html.js';
import { t, locale } from '../i18n/index.js';
import { blobType, clock, fileSize, kindOf, safeName } from '../files.js';

const AT_ONCE = 2;
let running = 0;
/** @type {(() => void)[]} */
const waiting = [];

/**
 * Runs `job` when fewer than two automatic openings are under way (a long history of images must
 * not start dozens of downloads at once).
 * @template T
 * @param {() => Promise<T>} job
 * @returns {Promise<T>}
 */
async function inTurn(job) {
  if (running >= AT_ONCE) await new Promise((resolve) => waiting.push(() => resolve(null)));
  running += 1;
  try {
    return await job();
  } finally {
    running -= 1;
    waiting.shift()?.();
  }
}

/**
 * The decrypted file as an object URL while the component lives; revoked when it goes.
 * @param {any} client @param {string} conversationId @param {import('../files.js').FileRef} file
 * @returns {{url: string, broken: boolean}}
 */
function useOpened(client, conversationId, file) {
  const [state, setState] = useState({ url: '', broken: false });
  useEffect(() => {
    let live = true;
    let url = '';
    inTurn(() => (live ? client.openAttachment(conversationId, file, { type: blobType(file) }) : null))
      .then((blob) => {
        if (!live || !blob) return;
        url = URL.createObjectURL(blob);
        setState({ url, broken: false });
      })
      .catch(() => live && setState({ url: '', broken: true }));
    return () => {
      live = false;
      if (url) URL.revokeObjectURL(url);
    };
  }, [client, conversationId, file.attachmentId]);
  return state;
}

/** @param {{client: any, conversationId: string, file: import('../files.js').FileRef}} props */
function InlineImage({ client, conversationId, file }) {
  const { url, broken } = useOpened(client, conversationId, file);
  if (broken) return html`<p class="file-problem">${t('notice.fileUnopened')}</p>`;
  const name = safeName(file.name);
  if (!url) return html`<p class="file-pending">${t('chat.fileOpening', { name })}</p>`;
  return html`<img class="attached-image" src=${url} alt=${t('chat.imageAlt', { name })} />`;
}

/** @param {{client: any, conversationId: string, file: import('../files.js').FileRef}} props */
function Audio({ client, conversationId, file }) {
  const { url, broken } = useOpened(client, conversationId, file);
  const label =
    file.durationMs != null
      ? t('chat.voiceNote', { time: clock(file.durationMs) })
      : t('chat.audio', { name: safeName(file.name) });
  if (broken) return html`<p class="file-problem">${t('notice.fileUnopened')}</p>`;
  return html`<figure class="voice">
    <figcaption>${label}</figcaption>
    ${
      url
        ? html`<audio controls preload="metadata" src=${url} aria-label=${label}></audio>`
        : html`<p class="file-pending">${t('chat.fileOpening', { name: safeName(file.name) })}</p>`
    }
  </figure>`;
}

/** @param {{client: any, conversationId: string, file: import('../files.js').FileRef}} props */
function SaveFile({ client, conversationId, file }) {
  const [busy, setBusy] = useState(false);
  const [broken, setBroken] = useState(false);
  const name = safeName(file.name);
  const size = fileSize(file.size, locale());
  async function save() {
    setBusy(true);
    setBroken(false);
    try {
      const blob = await client.openAttachment(conversationId, file, { type: 'application/octet-stream' });
      const url = URL.createObjectURL(blob);
      const link = document.createElement('a');
      link.href = url;
      link.download = name;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch {
      setBroken(true);
    } finally {
      setBusy(false);
    }
  }
  return html`<p class="file">
    <button type="button" class="quiet" disabled=${busy} onClick=${save}>
      ${busy ? t('chat.fileOpening', { name }) : t('chat.saveFile', { name, size })}
    </button>
    ${broken && html`<span class="file-problem" role="alert">${t('notice.fileUnopened')}</span>`}
  </p>`;
}

/**
 * @param {{client: any, conversationId: string, files: import('../files.js').FileRef[], unreadable: boolean}} props
 */
export function Files({ client, conversationId, files, unreadable }) {
  if (unreadable) return html`<p class="file-problem">${t('notice.fileUnopened')}</p>`;
  if (!files.length) return null;
  return html`<div class="files">
    ${files.map((file) => {
      const kind = kindOf(file);
      const View = kind === 'image' ? InlineImage : kind === 'audio' ? Audio : SaveFile;
      return html`<${View} key=${file.attachmentId} client=${client} conversationId=${conversationId} file=${file} />`;
    })}
  </div>`;
}
