import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groupDigits, splitSafetyNumber, compareDigits, calendarDay, digitsOf } from '../src/format.js';

const number = '123456789012345678901234567890098765432109876543210987654321';

test('a safety number reads as twelve groups of five, two halves side by side', () => {
  assert.equal(groupDigits(number).length, 12);
  assert.ok(groupDigits(number).every((g) => g.length === 5));
  const { yours, theirs } = splitSafetyNumber(number, true);
  assert.deepEqual(yours, ['12345', '67890', '12345', '67890', '12345', '67890']);
  assert.equal(theirs.length, 6);
  assert.deepEqual(splitSafetyNumber(number, false), { yours: theirs, theirs: yours });
});

test('typed digits compare with or without spaces', () => {
  assert.equal(compareDigits(groupDigits(number).join(' '), number), 'match');
  assert.equal(compareDigits(number, number), 'match');
  assert.equal(compareDigits(number.replace(/^1/, '9'), number), 'mismatch');
  assert.equal(compareDigits('12345 67890', number), 'short');
});

test('an SDK split number is compared either way round', () => {
  const split = { yours: number.slice(0, 30), theirs: number.slice(30) };
  assert.equal(compareDigits(number, split), 'match');
  assert.equal(compareDigits(number.slice(30) + number.slice(0, 30), split), 'match');
});

test('dates read in the reader language', () => {
  assert.match(calendarDay('2026-12-01', 'en'), /December/);
  assert.match(calendarDay('2026-12-01', 'de'), /Dezember/);
  assert.equal(calendarDay(null, 'en'), '');
  assert.equal(digitsOf('a1 2-3'), '123');
});
