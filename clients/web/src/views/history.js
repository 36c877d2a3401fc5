/** History on a new device: Settings → "Keep your history" (a recovery key shown once, confirmed by
 * typing two of its groups back before anything is published), the "Restore your history" screen a
 * new browser is offered after sign-in (the recovery key, or approval from another device), and the
 * "Approve new device" card a signed-in device shows when another one joins the account. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { newRecoveryKey } from 'haven-sdk';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { groupsMatch, groupsOf, pickGroups } from '../recovery.js';
import { usePage, problemLine } from './common.js';

/** @typedef {{enabled: boolean, backupId: string | null, createdAt: string | null, heldHere: boolean, readableHere: boolean}} BackupStatus */

/**
 * The catalogue line for a refusal while restoring or linking.
 * @param {any} error
 */
function historyProblem(error) {
  switch (error?.code) {
    case 'recovery_key_malformed':
      return t('notice.recoveryKeyTypo');
    case 'recovery_key_wrong':
      return t('notice.recoveryKeyWrong');
    case 'no_backup':
      return t('notice.restoreNoBackup');
    case 'backup_not_held':
      return t('notice.linkNotHeld');
    default:
      return problemLine(error);
  }
}

/**
 * One group of the recovery key typed back.
 * @param {'a' | 'b'} which
 * @param {number} n the group's position in the key
 */
function groupField(which, n) {
  return html`<div>
    <label for=${`rk-group-${which}`}>${t('history.confirmGroup', { n })}</label>
    <input
      id=${`rk-group-${which}`}
      name=${`group-${which}`}
      type="text"
      autocomplete="off"
      spellcheck="false"
      maxlength="8"
      required
    />
  </div>`;
}

/** @param {{client: any, go: (route: {name: string}) => void}} props */
export function KeepHistory({ client, go }) {
  const [status, setStatus] = useState(/** @type {BackupStatus | null} */ (null));
  const [stage, setStage] = useState(/** @type {'idle' | 'reveal' | 'off'} */ ('idle'));
  const [key, setKey] = useState('');
  const [positions, setPositions] = useState(/** @type {[number, number]} */ ([1, 2]));
  const [line, setLine] = useState(/** @type {{text: string, warn: boolean} | null} */ (null));
  const [copied, setCopied] = useState(false);
  const [busy, setBusy] = useState(false);
  const load = () =>
    client
      .backupStatus()
      .then(setStatus)
      .catch(() => setStatus(null));
  useEffect(() => {
    load();
  }, [client]);

  function begin() {
    const text = newRecoveryKey();
    setKey(text);
    setPositions(pickGroups(groupsOf(text).length));
    setCopied(false);
    setLine(null);
    setStage('reveal');
  }

  function cancel() {
    setKey('');
    setStage('idle');
    setLine(null);
  }

  async function copy() {
    try {
      await navigator.clipboard.writeText(key);
      setCopied(true);
    } catch {
      // No clipboard here (permissions, an insecure page): the field is selected to copy by hand.
      const field = /** @type {HTMLTextAreaElement | null} */ (document.getElementById('rk-shown'));
      field?.select();
    }
  }

  /** @param {Event} event */
  async function confirm(event) {
    event.preventDefault();
    const form = new FormData(/** @type {HTMLFormElement} */ (event.target));
    const typed = [String(form.get('group-a') ?? ''), String(form.get('group-b') ?? '')];
    if (!groupsMatch(key, positions, typed)) {
      setLine({ text: t('notice.recoveryKeyMismatch'), warn: true });
      return;
    }
    setBusy(true);
    try {
      await client.enableBackup(key);
      setKey('');
      setStage('idle');
      setLine({ text: t('notice.historyOn'), warn: false });
      await load();
    } catch (error) {
      setLine({ text: historyProblem(error), warn: true });
    } finally {
      setBusy(false);
    }
  }

  async function turnOff() {
    setBusy(true);
    try {
      await client.disableBackup();
      setStage('idle');
      setLine({ text: t('notice.historyTurnedOff'), warn: false });
      await load();
    } catch (error) {
      setLine({ text: historyProblem(error), warn: true });
    } finally {
      setBusy(false);
    }
  }

  const enabled = Boolean(status?.enabled);
  return html`<section class="card" aria-labelledby="history-h">
    <h2 id="history-h">${t('history.heading')}</h2>
    ${
      status &&
      stage === 'idle' &&
      html`<p>
        ${!enabled ? t('notice.historyOff') : status.readableHere ? t('notice.historyOn') : t('notice.historyOnNotHere')}
      </p>`
    }
    <div role="status">${line && !line.warn && html`<p class="notice">${line.text}</p>`}</div>
    ${line && line.warn && html`<p class="notice warn" role="alert">${line.text}</p>`}
    ${
      stage === 'idle' &&
      status &&
      html`<p>
        ${
          enabled
            ? html`${
                  !status.readableHere &&
                  html`<button type="button" onClick=${() => go({ name: 'restore' })}>
                      ${t('history.restoreHere')}
                    </button>
                    ${' '}`
                }
                <button type="button" class=${status.readableHere ? '' : 'quiet'} onClick=${begin}>
                  ${t('history.replace')}
                </button>
                ${' '}
                <button type="button" class="quiet" onClick=${() => setStage('off')}>${t('history.turnOff')}</button>`
            : html`<button type="button" onClick=${begin}>${t('history.turnOn')}</button>`
        }
      </p>`
    }
    ${
      stage === 'off' &&
      html`<p class="notice">${t('notice.historyOffConfirm')}</p>
        <p>
          <button type="button" class="quiet" disabled=${busy} onClick=${turnOff}>
            ${t('history.turnOffConfirm')}
          </button>
          ${' '}
          <button type="button" class="link" onClick=${cancel}>${t('history.cancel')}</button>
        </p>`
    }
    ${
      stage === 'reveal' &&
      html`<div class="stack">
        ${enabled && html`<p class="notice">${t('notice.historyReplaceWarn')}</p>`}
        <div>
          <label for="rk-shown">${t('history.keyLabel')}</label>
          <p class="hint" id="rk-hint">${t('notice.recoveryKeyShown')}</p>
          <textarea
            id="rk-shown"
            class="code recovery-key"
            readonly
            rows="2"
            aria-describedby="rk-hint"
            spellcheck="false"
            value=${key}
          ></textarea>
        </div>
        <p>
          <button type="button" class="quiet" onClick=${copy}>${t('history.copy')}</button>
          <span role="status">${copied ? ` ${t('history.copied')}` : ''}</span>
        </p>
        <form class="stack" onSubmit=${confirm}>
          <fieldset>
            <legend>${t('history.confirmHeading')}</legend>
            <p class="hint">${t('notice.recoveryKeyConfirm', { a: positions[0], b: positions[1] })}</p>
            <div class="rk-confirm">${groupField('a', positions[0])} ${groupField('b', positions[1])}</div>
          </fieldset>
          <p>
            <button type="submit" disabled=${busy}>${t('history.confirm')}</button>
            ${' '}
            <button type="button" class="link" onClick=${cancel}>${t('history.cancel')}</button>
          </p>
        </form>
      </div>`
    }
  </section>`;
}

/**
 * The screen a new browser is offered after sign-in when the account keeps its history.
 * @param {{client: any, go: (route: {name: string}) => void, announce: (text: string) => void}} props
 */
export function RestoreHistory({ client, go, announce }) {
  const heading = usePage(t('title.restore'));
  const [busy, setBusy] = useState(false);
  const [keep, setKeep] = useState(false);
  const [problem, setProblem] = useState('');
  const [done, setDone] = useState('');
  const [codes, setCodes] = useState(/** @type {{deviceId: string, name: string, code: string}[] | null} */ (null));
  const doneRef = useRef(false);

  /** @param {string} text */
  function finish(text) {
    if (doneRef.current) return;
    doneRef.current = true;
    setProblem('');
    setDone(text);
    announce(text);
  }

  useEffect(() => {
    const offLinked = client.on('linked', (/** @type {{withHistory: boolean}} */ e) =>
      finish(e.withHistory ? t('notice.linkedWithHistory') : t('notice.linkedNoHistory')),
    );
    const offRefused = client.on('link_refused', () => setProblem(t('notice.linkRefused')));
    // Without a socket (or a frame lost on the way) the link waits at GET /v1/me/links.
    const timer = setInterval(() => {
      if (codes !== null && !doneRef.current) client.checkLinks().catch(() => undefined);
    }, 5000);
    return () => {
      offLinked();
      offRefused();
      clearInterval(timer);
    };
  }, [client, codes !== null]);

  /** @param {Event} event */
  async function restore(event) {
    event.preventDefault();
    const text = String(new FormData(/** @type {HTMLFormElement} */ (event.target)).get('recovery') ?? '');
    setBusy(true);
    setProblem('');
    try {
      const summary = await client.restoreHistory(text, { keep });
      finish(t('notice.restored', { count: summary.opened }));
    } catch (error) {
      setProblem(historyProblem(error));
    } finally {
      setBusy(false);
    }
  }

  async function showCodes() {
    setProblem('');
    try {
      setCodes(await client.linkCodes());
    } catch (error) {
      setProblem(historyProblem(error));
    }
  }

  return html`<h1 tabindex="-1" ref=${heading}>${t('restore.heading')}</h1>
    ${
      done
        ? html`<p class="notice">${done}</p>
            <p><button type="button" onClick=${() => go({ name: 'list' })}>${t('restore.toList')}</button></p>`
        : html`<p>${t('notice.restoreIntro')}</p>
            ${problem && html`<p class="notice warn" role="alert">${problem}</p>`}
            <section class="card" aria-labelledby="restore-key-h">
              <h2 id="restore-key-h">${t('restore.keyHeading')}</h2>
              <form class="stack" onSubmit=${restore}>
                <div>
                  <label for="recovery">${t('restore.keyLabel')}</label>
                  <textarea
                    id="recovery"
                    name="recovery"
                    class="code recovery-key"
                    rows="3"
                    autocomplete="off"
                    autocapitalize="none"
                    spellcheck="false"
                    required
                  ></textarea>
                </div>
                <div class="check">
                  <input
                    id="restore-keep"
                    type="checkbox"
                    checked=${keep}
                    aria-describedby="restore-keep-hint"
                    onChange=${(/** @type {Event} */ e) => setKeep(/** @type {HTMLInputElement} */ (e.target).checked)}
                  />
                  <label for="restore-keep">${t('restore.keep')}</label>
                  <p class="hint" id="restore-keep-hint">${t('notice.restoreKeepHint')}</p>
                </div>
                <div><button type="submit" disabled=${busy}>${t('restore.submit')}</button></div>
                ${busy && html`<p role="status">${t('restore.busy')}</p>`}
              </form>
            </section>
            <section class="card" aria-labelledby="restore-link-h">
              <h2 id="restore-link-h">${t('restore.linkHeading')}</h2>
              ${
                codes === null
                  ? html`<p>
                      <button type="button" class="quiet" onClick=${showCodes}>${t('restore.showCodes')}</button>
                    </p>`
                  : codes.length === 0
                    ? html`<p class="notice">${t('notice.noOtherDevice')}</p>`
                    : html`<p>${t('notice.linkWaiting')}</p>
                        <ul class="link-codes">
                          ${codes.map(
                            (c) =>
                              html`<li>
                                ${t('restore.codeFor', { name: c.name })}:
                                <span class="code" data-device=${c.deviceId}>${c.code}</span>
                              </li>`,
                          )}
                        </ul>
                        <p role="status">${t('restore.waiting')}</p>`
              }
            </section>
            <p>
              <button type="button" class="link" onClick=${() => go({ name: 'list' })}>${t('restore.skip')}</button>
            </p>`
    }`;
}

/**
 * Whether a browser that just signed in should be offered the restore screen.
 * @param {any} client
 */
export async function restoreOffered(client) {
  try {
    const status = await client.backupStatus();
    return Boolean(status.enabled && !status.readableHere);
  } catch {
    return false;
  }
}

/** @typedef {{deviceId: string, name: string, code: string, state: 'ask' | 'busy' | 'done', line: string, warn: boolean}} Prompt */

/**
 * "Approve new device": one card per device that joined the account while this one is open. A
 * device that opened the history without keeping the recovery key cannot pass it on: its card says
 * so before anyone presses Approve, with the ways that work.
 * @param {{client: any, me: import('../session.js').Person, go: (route: {name: string}) => void}} props
 */
export function LinkPrompts({ client, me, go }) {
  const [prompts, setPrompts] = useState(/** @type {Prompt[]} */ ([]));
  const [notHeld, setNotHeld] = useState(false);
  const known = useRef(/** @type {Set<string> | null} */ (null));

  useEffect(() => {
    let live = true;
    const refresh = async () => {
      const list = await client.devices().catch(() => null);
      if (!list || !live) return;
      const ids = new Set(list.map((/** @type {any} */ d) => String(d.device_id)));
      const before = known.current;
      known.current = ids;
      setPrompts((p) => p.filter((x) => x.state !== 'ask' || ids.has(x.deviceId)));
      if (before === null) return;
      // Asked again at each change: restoring here with "keep" (it vouches) makes Approve work.
      const status = await client.backupStatus().catch(() => null);
      if (!live) return;
      setNotHeld(Boolean(status?.enabled && !status.heldHere));
      for (const device of list) {
        if (before.has(device.device_id) || device.current) continue;
        const view = await client.linkCodeFor(device.device_id).catch(() => null);
        if (!view || !live) continue;
        /** @type {Prompt} */
        const prompt = { ...view, name: view.name || device.name || '', state: 'ask', line: '', warn: false };
        setPrompts((p) => [...p.filter((x) => x.deviceId !== view.deviceId), prompt]);
      }
    };
    refresh();
    const off = client.on('devices_changed', (/** @type {{accountId: string}} */ e) => {
      if (e.accountId === me.accountId) refresh();
    });
    // Restoring here with "keep" (or being linked) makes this device able to approve.
    const offHeld = client.on('backup_changed', async () => {
      const status = await client.backupStatus().catch(() => null);
      if (live && status) setNotHeld(Boolean(status.enabled && !status.heldHere));
    });
    return () => {
      live = false;
      off();
      offHeld();
    };
  }, [client]);

  /** @param {string} deviceId @param {Partial<Prompt>} change */
  const update = (deviceId, change) =>
    setPrompts((p) => p.map((x) => (x.deviceId === deviceId ? { ...x, ...change } : x)));

  /** @param {Prompt} prompt */
  async function approve(prompt) {
    update(prompt.deviceId, { state: 'busy' });
    try {
      const { withHistory } = await client.approveDevice(prompt.deviceId);
      const line = withHistory ? t('notice.linkApproved', { name: prompt.name }) : t('notice.linkApprovedNoHistory');
      update(prompt.deviceId, { state: 'done', line, warn: false });
    } catch (error) {
      update(prompt.deviceId, { state: 'done', line: historyProblem(error), warn: true });
    }
  }

  /** @param {Prompt} prompt */
  async function notMe(prompt) {
    update(prompt.deviceId, { state: 'busy' });
    try {
      await client.revokeDevice(prompt.deviceId);
      update(prompt.deviceId, { state: 'done', line: t('notice.linkNotMe'), warn: false });
    } catch (error) {
      update(prompt.deviceId, { state: 'done', line: problemLine(error), warn: true });
    }
  }

  if (prompts.length === 0) return null;
  return html`${prompts.map(
    (p) =>
      html`<section class="card link-prompt" aria-labelledby=${`link-h-${p.deviceId}`}>
        <h2 id=${`link-h-${p.deviceId}`}>${t('link.heading')}</h2>
        ${
          p.state === 'done'
            ? html`<div role="status"><p class=${p.warn ? 'notice warn' : 'notice'}>${p.line}</p></div>
                <p>
                  <button
                    type="button"
                    class="link"
                    onClick=${() => setPrompts((all) => all.filter((x) => x.deviceId !== p.deviceId))}
                  >
                    ${t('link.close')}
                  </button>
                </p>`
            : html`<p>${t('notice.linkNew', { name: p.name })}</p>
                <p>${t('link.code')}: <span class="code">${p.code}</span></p>
                ${
                  notHeld &&
                  html`<p class="notice warn link-not-held">${t('link.notHeld', { name: p.name })}</p>
                    <p>
                      <button type="button" class="link" onClick=${() => go({ name: 'restore' })}>
                        ${t('link.restoreHere')}
                      </button>
                    </p>`
                }
                <p>
                  ${
                    !notHeld &&
                    html`<button type="button" disabled=${p.state === 'busy'} onClick=${() => approve(p)}>
                        ${t('link.approve')}
                      </button>
                      ${' '}`
                  }
                  <button type="button" class="quiet" disabled=${p.state === 'busy'} onClick=${() => notMe(p)}>
                    ${t('link.notMe')}
                  </button>
                </p>`
        }
      </section>`,
  )}`;
}
