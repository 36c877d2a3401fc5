/** The conversation list: each counterpart's display name as a link, with unread counts. */
import { useEffect, useState } from 'preact/hooks';
import { html } from '../html.js';
import { t } from '../i18n/index.js';
import { conversation } from '../session.js';
import { unreadCount } from '../state.js';
import { usePage, problemLine } from './common.js';

/** @param {{client: any, me: import('../session.js').Person, go: (route: {name: string, id?: string}) => void}} props */
export function ConversationList({ client, me, go }) {
  const heading = usePage(t('title.list'));
  const [items, setItems] = useState(/** @type {import('../session.js').Conversation[] | null} */ (null));
  const [problem, setProblem] = useState('');

  useEffect(() => {
    let live = true;
    const load = () =>
      client
        .conversations()
        .then((/** @type {any[]} */ list) => live && setItems(list.map((c) => conversation(c, me.accountId))))
        .catch((/** @type {unknown} */ error) => live && setProblem(problemLine(error)));
    load();
    const events = ['message', 'relationship', 'read'];
    for (const name of events) client.on?.(name, load);
    return () => {
      live = false;
      for (const name of events) client.off?.(name, load);
    };
  }, [client]);

  return html`<h1 tabindex="-1" ref=${heading}>${t('list.heading')}</h1>
    ${problem && html`<p class="notice warn" role="alert">${problem}</p>`}
    ${items && items.length === 0 && html`<p class="notice">${t('notice.listEmpty')}</p>`}
    ${
      items &&
      items.length > 0 &&
      html`<ul class="conversations">
        ${items.map((c) => {
          const unread = unreadCount(c);
          return html`<li>
            <a
              href="#"
              onClick=${(/** @type {Event} */ e) => {
                e.preventDefault();
                go({ name: 'chat', id: c.id });
              }}
              >${c.counterpart.displayName}</a
            >
            ${unread > 0 && html`<span class="badge">${t('list.unread', { count: unread })}</span>`}
            ${c.status !== 'active' && html`<span class="tag">${t(c.status === 'paused' ? 'list.paused' : 'list.ended')}</span>`}
          </li>`;
        })}
      </ul>`
    }`;
}
