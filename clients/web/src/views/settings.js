/** Settings: this conversation's privacy, your devices, password, your data, deletion, and the
 * explicit "Leave and erase this device". */
import { useEffect, useState } from 'preact/hooks';
import { html } from '../html.js';
import { t, locale, language } from '../i18n/index.js';
import { dayAndTime } from '../format.js';
import { conversation, pick } from '../session.js';
import { usePage, problemLine, download } from './common.js';
import { eraseEverything } from '../storage.js';
import { Notifications } from './notifications.js';
import { KeepHistory } from './history.js';

/** @param {{client: any, me: import('../session.js').Person, id?: string, signOut: () => void, eraseDevice: () => void, finish: (key: string) => void, go: (route: {name: string}) => void}} props */
export function Settings({ client, me, id, signOut, eraseDevice, finish, go }) {
  const heading = usePage(t('title.settings'));
  const [status, setStatus] = useState('');
  const [problem, setProblem] = useState('');
  /** @param {() => Promise<unknown>} action @param {string} done */
  const attempt = async (action, done) => {
    setProblem('');
    setStatus('');
    try {
      await action();
      setStatus(done);
    } catch (error) {
      setProblem(problemLine(error));
    }
  };
  return html`<h1 tabindex="-1" ref=${heading}>${t('settings.heading')}</h1>
    <div role="status">${status && html`<p class="notice">${status}</p>`}</div>
    ${problem && html`<p class="notice warn" role="alert">${problem}</p>`}
    ${id && html`<${ConversationSettings} client=${client} me=${me} id=${id} attempt=${attempt} />`}
    <${Notifications} client=${client} attempt=${attempt} />
    <${Devices} client=${client} attempt=${attempt} />
    <${KeepHistory} client=${client} go=${go} />
    <section class="card" aria-labelledby="pw-h">
      <h2 id="pw-h">${t('settings.passwordHeading')}</h2>
      <form
        class="stack"
        onSubmit=${(/** @type {Event} */ e) => {
          e.preventDefault();
          const form = new FormData(/** @type {HTMLFormElement} */ (e.target));
          attempt(
            () => client.changePassword(String(form.get('current')), String(form.get('next'))),
            t('notice.passwordChanged'),
          );
        }}
      >
        <div>
          <label for="pw-current">${t('settings.currentPassword')}</label
          ><input id="pw-current" name="current" type="password" autocomplete="current-password" required />
        </div>
        <div>
          <label for="pw-next">${t('settings.newPassword')}</label>
          <p class="hint" id="pw-rule">${t('notice.passwordRule')}</p>
          <input
            id="pw-next"
            name="next"
            type="password"
            autocomplete="new-password"
            minlength="10"
            maxlength="256"
            aria-describedby="pw-rule"
            required
          />
        </div>
        <div><button type="submit">${t('settings.changePassword')}</button></div>
      </form>
    </section>
    <section class="card" aria-labelledby="data-h">
      <h2 id="data-h">${t('settings.dataHeading')}</h2>
      <p>
        <button
          type="button"
          class="quiet"
          onClick=${() => attempt(async () => download('haven-export.json', await client.exportData()), t('notice.exportReady'))}
        >
          ${t('settings.exportJson')}
        </button>
        ${' '}
        <button
          type="button"
          class="quiet"
          onClick=${() => attempt(() => openReadable(client), t('notice.exportReady'))}
        >
          ${t('settings.exportReadable')}
        </button>
      </p>
    </section>
    <section class="card" aria-labelledby="del-h">
      <h2 id="del-h">${t('settings.deleteHeading')}</h2>
      <p>${t('notice.deleteExplain')}</p>
      <form
        class="stack"
        onSubmit=${(/** @type {Event} */ e) => {
          e.preventDefault();
          const form = new FormData(/** @type {HTMLFormElement} */ (e.target));
          attempt(async () => {
            const receipt = await client.deleteAccount(String(form.get('password')));
            download('haven-deletion-receipt.json', receipt);
            await eraseEverything();
            finish('notice.deleted');
          }, t('notice.deleted'));
        }}
      >
        <div>
          <label for="del-pw">${t('settings.deletePassword')}</label
          ><input id="del-pw" name="password" type="password" autocomplete="current-password" required />
        </div>
        <div><button type="submit" class="quiet">${t('settings.deleteButton')}</button></div>
      </form>
    </section>
    <section class="card" aria-labelledby="erase-h">
      <h2 id="erase-h">${t('settings.eraseHeading')}</h2>
      <p>${t('notice.eraseExplain')}</p>
      <p>
        <button type="button" class="quiet" onClick=${signOut}>${t('settings.signOut')}</button>
        ${' '}
        <button type="button" class="quiet" onClick=${eraseDevice}>${t('settings.eraseButton')}</button>
      </p>
    </section>`;
}

/** @param {{client: any, me: import('../session.js').Person, id: string, attempt: Function}} props */
function ConversationSettings({ client, me, id, attempt }) {
  const [conv, setConv] = useState(/** @type {import('../session.js').Conversation | null} */ (null));
  useEffect(() => {
    client
      .conversations()
      .then((/** @type {any[]} */ list) =>
        setConv(list.map((c) => conversation(c, me.accountId)).find((c) => c.id === id) ?? null),
      );
  }, [client, id]);
  if (!conv) return null;
  const name = conv.counterpart.displayName;
  const settings = conv.settings ?? {};
  const detail = pick(settings, 'notificationDetail', 'notification_detail') ?? 'generic';
  const receipts = Boolean(pick(settings, 'shareReadReceipts', 'share_read_receipts'));
  const retention = pick(settings, 'retentionDays', 'retention_days');
  /** @param {Event} e */
  const save = (e) => {
    e.preventDefault();
    const form = new FormData(/** @type {HTMLFormElement} */ (e.target));
    const days = String(form.get('retention') ?? '').trim();
    attempt(
      () =>
        client.updateSettings(id, {
          shareReadReceipts: form.get('receipts') === 'on',
          notificationDetail: String(form.get('detail')),
          retentionDays: days === '' ? null : Number(days),
        }),
      t('notice.saved'),
    );
  };
  return html`<section class="card" aria-labelledby="conv-h">
    <h2 id="conv-h">${t('settings.conversationHeading', { name })}</h2>
    <form class="stack" onSubmit=${save}>
      <p class="check">
        <input id="receipts" name="receipts" type="checkbox" defaultChecked=${receipts} />
        <label for="receipts">${t('settings.readReceipts', { name })}</label>
      </p>
      <div>
        <label for="detail">${t('settings.notificationDetail')}</label>
        <select id="detail" name="detail" value=${detail}>
          ${['none', 'generic', 'sender'].map((v) => html`<option value=${v}>${t(`settings.detail.${v}`)}</option>`)}
        </select>
      </div>
      <div>
        <label for="retention">${t('settings.retention')}</label
        ><input id="retention" name="retention" type="number" min="1" defaultValue=${retention ?? ''} />
      </div>
      <div><button type="submit">${t('settings.save')}</button></div>
    </form>
  </section>`;
}

/** @param {{client: any, attempt: Function}} props */
function Devices({ client, attempt }) {
  const [devices, setDevices] = useState(/** @type {any[]} */ ([]));
  const [mine, setMine] = useState('');
  const load = () =>
    client.devices().then((/** @type {any[]} */ list) => {
      setDevices(list);
      setMine(list.find((d) => d.current)?.device_id ?? '');
    });
  useEffect(() => {
    load().catch(() => undefined);
  }, [client]);
  return html`<section class="card" aria-labelledby="dev-h">
    <h2 id="dev-h">${t('settings.devicesHeading')}</h2>
    <ul>
      ${devices.map((d) => {
        const deviceId = pick(d, 'deviceId', 'device_id');
        const seen = pick(d, 'lastSeenAt', 'last_seen_at');
        return html`<li>
          ${d.name}${deviceId === mine ? ` (${t('settings.thisDevice')})` : ''}
          ${seen && html` <span class="tag">${t('settings.lastSeen', { when: dayAndTime(seen, locale()) })}</span>`}
          ${
            deviceId !== mine &&
            html` <button
              type="button"
              class="link"
              onClick=${() =>
                attempt(async () => {
                  await client.revokeDevice(deviceId);
                  await load();
                }, t('notice.deviceRevoked'))}
            >
              ${t('settings.revoke', { name: d.name })}
            </button>`
          }
        </li>`;
      })}
    </ul>
  </section>`;
}

/**
 * The readable copy: every conversation this device can open, decrypted here, as one web page
 * saved as a file (never shown inside Haven's origin).
 * @param {any} client
 */
async function openReadable(client) {
  const own = client.account.account_id;
  const parts = [];
  for (const raw of await client.conversations()) {
    const conv = conversation(raw, own);
    parts.push(`<h2>${escapeHtml(conv.counterpart.displayName)}</h2><ol>`);
    let after = 0;
    for (;;) {
      const page = await client.history(conv.id, { afterSeq: after, limit: 200 });
      for (const m of page.messages) {
        const who = m.outgoing ? t('chat.you') : conv.counterpart.displayName;
        const text =
          m.kind === 'message' ? (m.body ?? '') : m.kind === 'deleted' ? t('chat.deleted') : t('notice.unreadable');
        const when = m.serverTs ? new Date(m.serverTs).toLocaleString(locale()) : '';
        parts.push(
          `<li><strong>${escapeHtml(who)}</strong> <small>${escapeHtml(when)}</small><p>${escapeHtml(text)}</p></li>`,
        );
        after = Math.max(after, m.seq ?? after);
      }
      if (!page.hasMore || page.messages.length === 0) break;
    }
    parts.push('</ol>');
  }
  const page = `<!doctype html><html lang="${language()}"><meta charset="utf-8"><title>Haven</title><body><h1>${escapeHtml(t('settings.dataHeading'))}</h1>${parts.join('')}</body></html>`;
  const link = document.createElement('a');
  link.href = URL.createObjectURL(new Blob([page], { type: 'text/html' }));
  link.download = 'haven-conversations.html';
  document.body.append(link);
  link.click();
  link.remove();
}

/** @param {string} text */
function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
