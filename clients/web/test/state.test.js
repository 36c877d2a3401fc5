import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as chat from '../src/state.js';

/** @param {Partial<import('../src/state.js').ChatItem>} over */
const item = (over) => ({
  id: 'm',
  seq: null,
  senderAccountId: 'a',
  mine: false,
  text: 'hi',
  at: '2026-12-04T10:00:00Z',
  urgent: false,
  deleted: false,
  unreadable: false,
  state: null,
  code: null,
  ...over,
});

test('messages are deduped by id and ordered by seq, pending last', () => {
  const list = chat.mergeMessages(
    [],
    [item({ id: 'b', seq: 2 }), item({ id: 'p', seq: null }), item({ id: 'a', seq: 1 })],
  );
  assert.deepEqual(
    list.map((i) => i.id),
    ['a', 'b', 'p'],
  );
  const again = chat.mergeMessages(list, [item({ id: 'a', seq: 1 }), item({ id: 'b', seq: 2 })]);
  assert.equal(again.length, 3);
});

test('a pending message becomes sent once stored', () => {
  const list = chat.mergeMessages([], [item({ id: 'x', state: 'queued' })]);
  assert.ok(chat.hasQueued(list));
  const stored = chat.mergeMessages(list, [item({ id: 'x', seq: 7, text: '' })]);
  assert.equal(stored[0].state, 'sent');
  assert.equal(stored[0].text, 'hi');
  assert.equal(chat.hasQueued(stored), false);
});

test('send states, deletion and dropping a refused send', () => {
  let list = [item({ id: 'x', mine: true, state: 'sending' })];
  list = chat.applySendState(list, { messageId: 'x', state: 'queued' });
  assert.equal(list[0].state, 'queued');
  list = chat.markDeleted(list, 'x');
  assert.equal(list[0].text, '');
  assert.equal(chat.dropPending(list, 'x').length, 0);
});

test('scroll-back and read markers use the right seq', () => {
  const list = [item({ id: 'a', seq: 3 }), item({ id: 'b', seq: 5, mine: true }), item({ id: 'c', seq: 4 })];
  assert.equal(chat.oldestSeq(list), 3);
  assert.equal(chat.newestTheirs(list), 4);
  assert.equal(chat.oldestSeq([]), null);
});

test('unread counts come from the SDK or last seq minus read marker', () => {
  assert.equal(chat.unreadCount({ unread: 2 }), 2);
  assert.equal(chat.unreadCount({ lastSeq: 9, readUpTo: 6 }), 3);
  assert.equal(chat.unreadCount({ lastSeq: 1, readUpTo: 4 }), 0);
});
