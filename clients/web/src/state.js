/** The chat's state as pure reducers: messages deduped by id and ordered by seq, send states, unread. */

/**
 * @typedef {object} ChatItem
 * @property {string} id message_id
 * @property {number | null} seq null while not yet stored
 * @property {string} senderAccountId
 * @property {boolean} mine
 * @property {string} text
 * @property {string} at ISO time
 * @property {boolean} urgent
 * @property {boolean} deleted
 * @property {boolean} unreadable a message that failed verification: shown, never skipped
 * @property {boolean} [predates] sent before this device existed: one line for all of them
 * @property {'sending' | 'sent' | 'queued' | 'failed' | null} state
 * @property {string | null} code refusal code when failed
 * @property {import('./files.js').FileRef[]} [files] files and voice notes the message lists
 * @property {boolean} [filesUnreadable] its list of files did not pass the checks
 */

/**
 * Adds or updates items; a later copy of the same message_id wins on stored fields.
 * @param {ChatItem[]} items
 * @param {ChatItem[]} incoming
 * @returns {ChatItem[]}
 */
export function mergeMessages(items, incoming) {
  /** @type {Map<string, ChatItem>} */
  const byId = new Map(items.map((item) => [item.id, item]));
  for (const item of incoming) {
    const known = byId.get(item.id);
    if (!known) {
      byId.set(item.id, item);
      continue;
    }
    byId.set(item.id, {
      ...known,
      ...item,
      seq: item.seq ?? known.seq,
      text: item.deleted ? '' : item.text || known.text,
      state: item.seq != null ? 'sent' : (item.state ?? known.state),
    });
  }
  return [...byId.values()].sort(bySeq);
}

/**
 * Stored messages by seq; messages not yet stored last, in the order they were written.
 * @param {ChatItem} a
 * @param {ChatItem} b
 */
function bySeq(a, b) {
  if (a.seq != null && b.seq != null) return a.seq - b.seq;
  if (a.seq != null) return -1;
  if (b.seq != null) return 1;
  return a.at < b.at ? -1 : a.at > b.at ? 1 : 0;
}

/**
 * A send state from the SDK applied to the pending item with that id.
 * @param {ChatItem[]} items
 * @param {{messageId: string, state: 'sending' | 'sent' | 'queued' | 'failed', code?: string | null}} event
 * @returns {ChatItem[]}
 */
export function applySendState(items, event) {
  return items.map((item) =>
    item.id === event.messageId && item.seq == null ? { ...item, state: event.state, code: event.code ?? null } : item,
  );
}

/**
 * Delete-for-everyone: the item stays in place, its text goes.
 * @param {ChatItem[]} items
 * @param {string} messageId
 * @returns {ChatItem[]}
 */
export function markDeleted(items, messageId) {
  return items.map((item) => (item.id === messageId ? { ...item, deleted: true, text: '' } : item));
}

/**
 * Failed sends drop out of the list (their text goes back into the draft).
 * @param {ChatItem[]} items
 * @param {string} messageId
 * @returns {ChatItem[]}
 */
export function dropPending(items, messageId) {
  return items.filter((item) => !(item.id === messageId && item.seq == null));
}

/**
 * Whether any message is waiting for the pacing to let it go ("Sending shortly…").
 * @param {ChatItem[]} items
 */
export function hasQueued(items) {
  return items.some((item) => item.seq == null && item.state === 'queued');
}

/**
 * The lowest stored seq, for scrolling back with before_seq.
 * @param {ChatItem[]} items
 * @returns {number | null}
 */
export function oldestSeq(items) {
  let lowest = null;
  for (const item of items) if (item.seq != null && (lowest === null || item.seq < lowest)) lowest = item.seq;
  return lowest;
}

/**
 * The highest stored seq from the counterpart, for read markers.
 * @param {ChatItem[]} items
 * @returns {number | null}
 */
export function newestTheirs(items) {
  let highest = null;
  for (const item of items)
    if (!item.mine && item.seq != null && (highest === null || item.seq > highest)) highest = item.seq;
  return highest;
}

/**
 * The highest stored seq of any message: the read marker once the chat is open, so one's own
 * messages never count as unread.
 * @param {ChatItem[]} items
 * @returns {number | null}
 */
export function newestSeq(items) {
  let highest = null;
  for (const item of items) if (item.seq != null && (highest === null || item.seq > highest)) highest = item.seq;
  return highest;
}

/**
 * Unread count of a conversation from its last seq and the caller's read marker.
 * @param {{lastSeq?: number | null, readUpTo?: number | null, unread?: number}} conversation
 */
export function unreadCount(conversation) {
  if (typeof conversation.unread === 'number') return conversation.unread;
  const last = conversation.lastSeq ?? 0;
  const read = conversation.readUpTo ?? 0;
  return Math.max(0, last - read);
}
