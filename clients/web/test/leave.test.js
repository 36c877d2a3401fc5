import { test } from 'node:test';
import assert from 'node:assert/strict';
import { shiftTracker, safeExitUrl } from '../src/leave.js';

const shift = { key: 'Shift' };

test('three Shift presses within five seconds leave', () => {
  const tracker = shiftTracker();
  assert.deepEqual(tracker.press(shift, 0), { progress: 1, leave: false });
  assert.deepEqual(tracker.press(shift, 1000), { progress: 2, leave: false });
  assert.deepEqual(tracker.press(shift, 4900), { progress: 3, leave: true });
});

test('presses older than five seconds do not count', () => {
  const tracker = shiftTracker();
  tracker.press(shift, 0);
  tracker.press(shift, 1000);
  assert.equal(tracker.press(shift, 5500).leave, false);
  assert.equal(tracker.press(shift, 5600).leave, true);
});

test('held Shift (key repeat) and other keys are not presses', () => {
  const tracker = shiftTracker();
  tracker.press(shift, 0);
  assert.equal(tracker.press({ key: 'Shift', repeat: true }, 10).progress, 1);
  assert.equal(tracker.press({ key: 'a' }, 20).progress, 1);
  assert.equal(tracker.press(shift, 30).progress, 2);
});

test('after leaving the count starts again', () => {
  const tracker = shiftTracker();
  for (const at of [0, 1, 2]) tracker.press(shift, at);
  assert.equal(tracker.press(shift, 3).progress, 1);
});

test('the exit is never Haven itself nor a script URL', () => {
  const fallback = 'https://example.org/weather';
  assert.equal(safeExitUrl('https://news.example/', 'https://haven.test', fallback), 'https://news.example/');
  assert.equal(safeExitUrl('https://haven.test/other', 'https://haven.test', fallback), fallback);
  assert.equal(safeExitUrl('javascript:alert(1)', 'https://haven.test', fallback), fallback);
  assert.equal(safeExitUrl('not a url', 'https://haven.test', fallback), fallback);
  assert.equal(safeExitUrl(42, 'https://haven.test', fallback), fallback);
});
