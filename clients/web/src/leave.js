/** Leave quickly: the Shift×3 trigger (pure, testable) and the exit itself (GOV.UK "Exit this page"). */

/**
 * Counts lone Shift presses; three within `windowMs` trigger the exit.
 * @param {{count?: number, windowMs?: number}} [options]
 */
export function shiftTracker({ count = 3, windowMs = 5000 } = {}) {
  /** @type {number[]} */
  let presses = [];
  return {
    /**
     * One keydown; returns how many Shift presses are in the window and whether to leave.
     * @param {{key: string, repeat?: boolean}} event
     * @param {number} now milliseconds
     */
    press(event, now) {
      if (event.key !== 'Shift') {
        return { progress: presses.length, leave: false };
      }
      if (event.repeat) return { progress: presses.length, leave: false };
      presses = presses.filter((t) => now - t < windowMs);
      presses.push(now);
      if (presses.length >= count) {
        presses = [];
        return { progress: count, leave: true };
      }
      return { progress: presses.length, leave: false };
    },
    reset() {
      presses = [];
    },
  };
}

/**
 * Only http(s) URLs on another origin may be an exit; anything else falls back to the default.
 * @param {unknown} candidate
 * @param {string} ownOrigin
 * @param {string} fallback
 */
export function safeExitUrl(candidate, ownOrigin, fallback) {
  if (typeof candidate !== 'string') return fallback;
  try {
    const url = new URL(candidate);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return fallback;
    if (url.origin === ownOrigin) return fallback;
    return url.href;
  } catch {
    return fallback;
  }
}

/**
 * Blank the page at once, forget the tab's session, and replace this history entry.
 * @param {string} exitUrl
 * @param {() => void} forget drops the in-memory session (tokens, socket)
 */
export function leaveNow(exitUrl, forget) {
  const overlay = document.createElement('div');
  overlay.className = 'leave-overlay';
  overlay.setAttribute('role', 'alert');
  document.body.append(overlay);
  document.documentElement.classList.add('leaving');
  document.title = '';
  try {
    forget();
  } catch {
    // Leaving must never wait for or fail on anything else.
  }
  try {
    sessionStorage.clear();
  } catch {
    // Storage may be unavailable; leaving goes on.
  }
  location.replace(exitUrl);
}
