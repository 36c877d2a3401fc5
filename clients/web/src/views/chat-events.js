/** The chat's live wiring: SDK events turned into state changes for one open conversation. */
import { t } from '../i18n/index.js';
import { chatItem, pick, resources } from '../session.js';
import * as chat from '../state.js';
import { refusalLine } from './banners.js';

/**
 * @typedef {object} ChatSetters
 * @property {(f: (items: chat.ChatItem[]) => chat.ChatItem[]) => void} items
 * @property {(f: (c: any) => any) => void} conv
 * @property {(seq: number) => void} theirRead
 * @property {(state: string) => void} connection
 * @property {(text: string) => void} draft restores a refused message's text
 * @property {(line: string, code: string) => void} refusal
 * @property {(list: import('../session.js').Resource[] | null) => void} crisis
 * @property {(text: string) => void} announce
 */

/**
 * Subscribes to the client's events for conversation `id`; returns the unsubscribe.
 * @param {any} client
 * @param {string} id
 * @param {string} me own account id
 * @param {() => string} name the counterpart's display name now
 * @param {ChatSetters} set
 */
export function wireChat(client, id, me, name, set) {
  const here = (/** @type {any} */ e) => pick(e, 'conversationId', 'conversation_id') === id;

  /** @type {[string, (event: any) => void][]} */
  const handlers = [
    [
      'message',
      (m) => {
        if (!here(m)) return;
        const item = chatItem(m, me);
        set.items((list) => chat.mergeMessages(list, [item]));
        if (!item.mine) set.announce(t('chat.announce', { name: name() }));
      },
    ],
    ['message_deleted', (e) => here(e) && set.items((l) => chat.markDeleted(l, e.messageId))],
    ['read', (e) => here(e) && e.accountId !== me && set.theirRead(e.upToSeq ?? 0)],
    [
      'send_state',
      (e) => {
        if (!here(e)) return;
        if (e.state === 'failed') {
          set.items((list) => chat.dropPending(list, e.messageId));
          set.draft(e.text ?? '');
          set.refusal(
            e.code === 'key_change_unacknowledged'
              ? t('notice.keyChangeBlocks', { name: name() })
              : refusalLine(e.code),
            e.code ?? '',
          );
          if (e.code === 'paused' || e.code === 'conflict') {
            set.conv((c) => c && { ...c, status: e.code === 'paused' ? 'paused' : 'ended' });
          }
          if (e.urgent) set.crisis(resources(e.crisisResources ?? []));
          return;
        }
        set.items((list) => {
          if (list.some((i) => i.id === e.messageId)) return chat.applySendState(list, e);
          /** @type {chat.ChatItem} */
          const item = {
            id: e.messageId,
            seq: null,
            senderAccountId: me,
            mine: true,
            text: e.text ?? '',
            at: new Date().toISOString(),
            urgent: Boolean(e.urgent),
            deleted: false,
            unreadable: false,
            state: e.state,
            code: null,
            files: e.attachments ?? [],
          };
          return chat.mergeMessages(list, [item]);
        });
        if (e.state === 'sent' && e.urgent && e.crisisResources?.length) set.crisis(resources(e.crisisResources));
      },
    ],
    [
      'relationship',
      (e) => {
        if (!here(e)) return;
        const paused = e.status === 'paused';
        set.conv(
          (c) =>
            c && { ...c, status: e.status, pause: paused ? { reason: e.reason ?? '', resumeOn: e.resumeOn } : null },
        );
      },
    ],
    [
      'coach_away',
      (e) => {
        if (!here(e)) return;
        set.crisis(resources(e.crisisResources ?? []));
      },
    ],
    ['connection', (e) => set.connection(e.state)],
  ];
  for (const [event, handler] of handlers) client.on(event, handler);
  return () => {
    for (const [event, handler] of handlers) client.off(event, handler);
  };
}
