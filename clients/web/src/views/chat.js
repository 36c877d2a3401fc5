/** A live conversation: history with scroll-back, live messages, read markers, delete for
 * everyone, the urgent flag, and sending that never looks like rejection. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { html } from '../html.js';
import { t, locale } from '../i18n/index.js';
import { timeOfDay } from '../format.js';
import { conversation, chatItem } from '../session.js';
import * as chat from '../state.js';
import { usePage, problemLine, CrisisBox } from './common.js';
import { Availability, StatusBanner, NotForEmergencies } from './banners.js';
import { wireChat } from './chat-events.js';
import { Files } from './files.js';
import { ComposerFiles, SendingFile, uploadChosen, uploadProblem } from './composer-files.js';

/** Pages of history fetched in the background when a chat opens (beyond: "Show earlier"). */
const BACKGROUND_PAGES = 6;

/** @param {{client: any, me: import('../session.js').Person, id: string, go: Function, announce: (text: string) => void, notes: import('../notes.js').ChatNotes, opened?: import('../session.js').Conversation}} props */
export function Chat({ client, me, id, go, announce, notes, opened }) {
  const [conv, setConv] = useState(/** @type {import('../session.js').Conversation | null} */ (opened ?? null));
  const name = conv?.counterpart.displayName ?? '';
  const heading = usePage(t('title.chat', { name }));
  const [items, setItems] = useState(/** @type {chat.ChatItem[]} */ ([]));
  const [, setNotesSeen] = useState(0);
  const [hasMore, setHasMore] = useState(false);
  const [draft, setDraft] = useState('');
  const [urgent, setUrgent] = useState(false);
  const [refusal, setRefusal] = useState({ line: '', code: '' });
  const [crisisNow, setCrisisNow] = useState(/** @type {import('../session.js').Resource[] | null} */ (null));
  const [availability, setAvailability] = useState(/** @type {any} */ (null));
  const [theirRead, setTheirRead] = useState(0);
  const [connection, setConnection] = useState('open');
  const [problem, setProblem] = useState('');
  const [chosen, setChosen] = useState(/** @type {import('./composer-files.js').Chosen | null} */ (null));
  const [sendingFile, setSendingFile] = useState(/** @type {import('./composer-files.js').Progress | null} */ (null));
  const [recording, setRecording] = useState(false);
  const log = useRef(/** @type {HTMLUListElement | null} */ (null));
  const nameRef = useRef(name);
  nameRef.current = name;

  useEffect(() => notes.subscribe(() => setNotesSeen((n) => n + 1)), [notes]);

  useEffect(() => {
    let live = true;
    (async () => {
      try {
        const found =
          opened ??
          (await client.conversations())
            .map((/** @type {any} */ c) => conversation(c, me.accountId))
            .find((/** @type {any} */ c) => c.id === id);
        if (!live || !found) return;
        setConv(found);
        if (found.counterpart.role === 'coach') {
          client
            .availability(found.counterpart.accountId)
            .then((/** @type {any} */ a) => live && setAvailability(a))
            .catch(() => undefined);
        }
        // The newest page first, then earlier pages behind it, so a long conversation opens at
        // its end at once and scrolls back without waiting.
        let before = found.lastSeq + 1;
        for (let pages = 0; live && pages < BACKGROUND_PAGES; pages++) {
          const page = await client.history(id, { beforeSeq: before, limit: pages ? 200 : 40 });
          if (!live) return;
          const loaded = page.messages.map((/** @type {any} */ m) => chatItem(m, me.accountId));
          setItems((list) => chat.mergeMessages(list, loaded));
          setHasMore(Boolean(page.hasMore));
          const oldest = chat.oldestSeq(loaded);
          if (!page.hasMore || oldest == null) break;
          before = oldest;
        }
      } catch (error) {
        if (live) setProblem(problemLine(error));
      }
    })();
    const unwire = wireChat(client, id, me.accountId, () => nameRef.current, {
      items: setItems,
      conv: setConv,
      theirRead: setTheirRead,
      connection: setConnection,
      draft: (text) => setDraft((d) => (d ? `${text}\n${d}` : text)),
      refusal: (line, code) => setRefusal({ line, code }),
      crisis: setCrisisNow,
      announce,
    });
    return () => {
      live = false;
      unwire();
    };
  }, [client, id]);

  useEffect(() => {
    const newest = chat.newestSeq(items);
    if (newest != null && conv && newest > conv.readUpTo) {
      client.markRead(id, newest).catch(() => undefined);
      setConv((c) => c && { ...c, readUpTo: newest });
    }
    const box = log.current;
    if (box) box.scrollTop = box.scrollHeight;
  }, [items.length]);

  async function older() {
    const before = chat.oldestSeq(items);
    if (before == null) return;
    const page = await client.history(id, { beforeSeq: before, limit: 200 });
    const loaded = page.messages.map((/** @type {any} */ m) => chatItem(m, me.accountId));
    setItems((list) => chat.mergeMessages(list, loaded));
    setHasMore(Boolean(page.hasMore));
  }

  /** @param {Event} [event] */
  async function send(event) {
    event?.preventDefault();
    const text = draft.trim();
    const file = chosen;
    if ((!text && !file) || !conv || sendingFile || recording) return;
    const wasUrgent = urgent && me.role === 'client';
    setRefusal({ line: '', code: '' });
    /** @type {any[]} */
    let attachments = [];
    if (file) {
      // The file goes first; only once it is stored does the message that lists it go out.
      setSendingFile({ phase: 'encrypting', done: 0, total: file.size });
      try {
        attachments = [await uploadChosen(client, id, file, setSendingFile)];
      } catch (error) {
        setRefusal({ line: uploadProblem(error), code: /** @type {any} */ (error)?.code ?? '' });
        return;
      } finally {
        setSendingFile(null);
      }
      setChosen(null);
    }
    setCrisisNow(wasUrgent ? [] : null);
    setDraft('');
    setUrgent(false);
    try {
      const result = await client.send(id, text, { urgent: wasUrgent, attachments });
      if (result.counterpartOffline) notes.add(id, 'notice.counterpartOffline', { name });
    } catch {
      // The SDK's send_state 'failed' event has already restored the draft and said why.
      if (file) setChosen((now) => now ?? file);
    }
  }

  async function acknowledge() {
    await client.acknowledgeKeyChange(id).catch(() => undefined);
    setRefusal({ line: '', code: '' });
  }

  async function remove(/** @type {string} */ messageId) {
    try {
      await client.deleteMessage(id, messageId);
      setItems((list) => chat.markDeleted(list, messageId));
    } catch (error) {
      setProblem(problemLine(error));
    }
  }

  /** @param {KeyboardEvent} event */
  function onKey(event) {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) send(event);
  }

  const shown = items.filter((i) => !i.predates);
  return html`<div class="chat-head">
      <h1 tabindex="-1" ref=${heading}>${name}</h1>
      <p>
        <button type="button" class="link" onClick=${() => go({ name: 'safety', id })}>${t('chat.safety')}</button>
        <button type="button" class="link" onClick=${() => go({ name: 'settings', id })}>${t('chat.settings')}</button>
      </p>
    </div>
    <${NotForEmergencies} />
    ${problem && html`<p class="notice warn" role="alert">${problem}</p>`}
    ${conv && html`<${StatusBanner} status=${conv.status} pause=${conv.pause} name=${name} />`}
    ${
      conv?.counterpart.role === 'coach' &&
      conv.status === 'active' &&
      html`<${Availability} name=${name} availability=${availability} />`
    }
    ${connection === 'reconnecting' && html`<p class="notice" role="status">${t('notice.reconnecting')}</p>`}
    <ul class="log" ref=${log} tabindex="0" aria-label=${t('chat.log')}>
      <li class="system">
        ${
          hasMore
            ? html`<button type="button" class="quiet" onClick=${older}>${t('chat.older')}</button>`
            : t('chat.start')
        }
      </li>
      ${shown.length < items.length && html`<li class="system">${t('notice.predatesDevice')}</li>`}
      ${shown.map(
        (item) =>
          html`<${Bubble}
            key=${item.id}
            item=${item}
            name=${name}
            read=${item.mine && item.seq != null && item.seq <= theirRead}
            onDelete=${remove}
            client=${client}
            conversationId=${id}
          />`,
      )}
      ${notes
        .for(id)
        .map(
          (n) =>
            html`<li class=${n.loud ? 'system notice loud' : 'system'} key=${`n${n.id}`}>${t(n.key, n.params)}</li>`,
        )}
    </ul>
    ${chat.hasQueued(items) && html`<p class="notice" role="status">${t('chat.sendingShortly')}</p>`}
    ${
      refusal.line &&
      html`<div class="notice warn" role="alert">
        <p>${refusal.line}</p>
        ${
          refusal.code === 'key_change_unacknowledged' &&
          html`<p>
            <button type="button" class="quiet" onClick=${() => go({ name: 'safety', id })}>
              ${t('chat.compare')}
            </button>
            ${' '}<button type="button" class="quiet" onClick=${acknowledge}>${t('chat.acknowledge')}</button>
          </p>`
        }
      </div>`
    }
    ${crisisNow && html`<${CrisisBox} list=${crisisNow} />`}
    <form class="composer" onSubmit=${send}>
      <label for="message">${t('field.message')}</label>
      <textarea
        id="message"
        rows="3"
        value=${draft}
        disabled=${conv?.status === 'ended'}
        onInput=${(/** @type {Event} */ e) => setDraft(/** @type {HTMLTextAreaElement} */ (e.target).value)}
        onKeyDown=${onKey}
      ></textarea>
      <${ComposerFiles}
        chosen=${chosen}
        choose=${setChosen}
        disabled=${conv?.status === 'ended' || Boolean(sendingFile)}
        announce=${announce}
        problem=${(/** @type {string} */ line) => setRefusal({ line, code: '' })}
        recordingNow=${setRecording}
      />
      ${sendingFile && html`<${SendingFile} progress=${sendingFile} />`}
      <div class="row">
        ${
          me.role === 'client' &&
          html`<span class="check">
              <input
                id="urgent"
                type="checkbox"
                checked=${urgent}
                aria-describedby="urgent-hint"
                onChange=${(/** @type {Event} */ e) => setUrgent(/** @type {HTMLInputElement} */ (e.target).checked)}
              />
              <label for="urgent">${t('chat.urgent')}</label>
            </span>
            <small class="hint" id="urgent-hint">${t('chat.urgentHint', { name })}</small>`
        }
        <button type="submit" disabled=${conv?.status === 'ended' || Boolean(sendingFile) || recording}>
          ${t('chat.send')}
        </button>
      </div>
    </form>`;
}

/** @param {{item: chat.ChatItem, name: string, read: boolean, onDelete: (id: string) => void, client: any, conversationId: string}} props */
function Bubble({ item, name, read, onDelete, client, conversationId }) {
  const state = item.seq == null && item.state ? t(`chat.state.${item.state}`) : read ? t('chat.state.read') : '';
  return html`<li class=${item.mine ? 'mine' : ''}>
    <div class="meta">
      <span>${item.mine ? t('chat.you') : name}</span>
      <span>${timeOfDay(item.at, locale())}</span>
      ${item.urgent && html`<span class="urgent-tag">${t('chat.urgentTag')}</span>`}
      ${state && html`<span>${state}</span>`}
    </div>
    ${
      item.deleted
        ? html`<p><em>${t('chat.deleted')}</em></p>`
        : item.unreadable
          ? html`<p><em>${t('notice.unreadable')}</em></p>`
          : html`${(item.text || !item.files?.length) && html`<p>${item.text}</p>`}
              <${Files}
                client=${client}
                conversationId=${conversationId}
                files=${item.files ?? []}
                unreadable=${Boolean(item.filesUnreadable)}
              />`
    }
    ${
      item.mine &&
      !item.deleted &&
      (item.seq != null || item.state === 'sent') &&
      html`<button type="button" class="link" onClick=${() => onDelete(item.id)}>${t('chat.delete')}</button>`
    }
  </li>`;
}
