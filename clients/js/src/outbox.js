/**
 * The in-memory outbox: messages the server asked us to send later (429 with `Retry-After`, 503) or
 * that met a lost network. It paces itself from `Retry-After` — after a 429 it sends one message per
 * `Retry-After` interval for a minute (the gateway's strike window), doubling the interval when
 * the server still says "later" — so a burst never pushes the gateway into closing the socket
 * with 4429 (five refusals within a minute). A later refusal (e.g. paused meanwhile) is reported
 * with the text kept.
 */
import { HavenApiError, HavenError } from './errors.js';

const STRIKE_WINDOW_MS = 60_000;
const MARGIN_MS = 250;
const MAX_BACKOFF_MS = 30_000;
const MAX_SPACING_MS = 60_000;

/** @param {unknown} error @returns {boolean} worth sending again later, unchanged */
export function isTransient(error) {
  if (error instanceof HavenApiError) {
    return (
      error.status === 429 ||
      error.status === 503 ||
      error.code === 'rate_limited' ||
      error.code === 'unavailable'
    );
  }
  if (error instanceof HavenError)
    return error.code === 'socket_closed' || error.code === 'network';
  return error instanceof TypeError; // fetch's network failure
}

/** @param {unknown} error @returns {number | null} seconds the server asked us to wait */
function retryAfter(error) {
  if (error instanceof HavenApiError && error.retryAfter !== null) return error.retryAfter;
  if (error instanceof HavenApiError && (error.status === 429 || error.code === 'rate_limited'))
    return 2;
  return null;
}

/** @typedef {import('./sender.js').PendingSend} PendingSend */

export class Outbox {
  /**
   * @param {object} deps
   * @param {(item: PendingSend) => Promise<any>} deps.attempt one post
   * @param {(item: PendingSend, answer: any) => Promise<import('./sender.js').SendResult>} deps.done
   * @param {(name: string, payload: unknown) => Promise<void>} deps.emit
   * @param {() => number} deps.now
   * @param {(item: PendingSend, error: unknown) => Promise<unknown>} [deps.fail]
   */
  constructor(deps) {
    this._d = deps;
    /** @type {PendingSend[]} */
    this.queue = [];
    this._pausedUntil = 0;
    this._spacingMs = 0;
    this._last429 = -Infinity;
    this._failures = 0;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this._timer = null;
    this._draining = false;
  }

  /** @param {(item: PendingSend, error: unknown) => Promise<unknown>} fail */
  onFail(fail) {
    this._d.fail = fail;
  }

  /** New sends wait their turn while anything is queued or the server recently said "later". */
  busy() {
    return this.queue.length > 0 || this._d.now() - this._last429 < STRIKE_WINDOW_MS;
  }

  /** @param {PendingSend} item @param {unknown} error why (null: pacing) @returns {Promise<import('./sender.js').SendResult>} */
  async enqueue(item, error) {
    this._learn(error);
    this.queue.push(item);
    const retryAt = Math.max(this._pausedUntil, this._d.now());
    await this._queued(item, retryAt);
    this._schedule();
    return {
      messageId: item.messageId,
      conversationId: item.conversationId,
      state: 'queued',
      retryAt,
      counterpartOffline: item.counterpartOffline,
      crisisResources: [],
    };
  }

  /** Drop everything (sign-out, panic). */
  clear() {
    this.queue = [];
    if (this._timer !== null) clearTimeout(this._timer);
    this._timer = null;
  }

  /** @param {unknown} error */
  _learn(error) {
    const now = this._d.now();
    const seconds = retryAfter(error);
    if (seconds !== null) {
      // Retry-After says when the next message may go, not how fast the budget refills: a second
      // "later" within the window means our spacing is too short, so it doubles.
      const asked = seconds * 1000 + MARGIN_MS;
      const again = now - this._last429 < STRIKE_WINDOW_MS;
      this._spacingMs = again
        ? Math.min(MAX_SPACING_MS, Math.max(asked, this._spacingMs * 2))
        : asked;
      this._last429 = now;
      this._pausedUntil = Math.max(this._pausedUntil, now + this._spacingMs);
      this._failures = 0;
    } else if (error !== null) {
      this._failures += 1;
      const backoff = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (this._failures - 1));
      this._pausedUntil = Math.max(this._pausedUntil, now + backoff);
    }
  }

  /** @param {PendingSend} item @param {number} retryAt */
  _queued(item, retryAt) {
    return this._d.emit('send_state', {
      messageId: item.messageId,
      conversationId: item.conversationId,
      text: item.text,
      urgent: item.urgent,
      attachments: item.attachments,
      state: 'queued',
      retryAt,
      code: null,
      detail: null,
      crisisResources: [],
    });
  }

  _schedule() {
    if (this._timer !== null || this._draining || this.queue.length === 0) return;
    const wait = Math.max(0, this._pausedUntil - this._d.now());
    this._timer = setTimeout(() => {
      this._timer = null;
      void this._drain();
    }, wait);
  }

  async _drain() {
    this._draining = true;
    try {
      while (this.queue.length > 0 && this._d.now() >= this._pausedUntil) {
        const item = this.queue[0];
        try {
          const answer = await this._d.attempt(item);
          this.queue.shift();
          this._failures = 0;
          if (this._d.now() - this._last429 < STRIKE_WINDOW_MS) {
            this._pausedUntil = this._d.now() + this._spacingMs;
          }
          await this._d.done(item, answer);
        } catch (error) {
          if (isTransient(error)) {
            this._learn(error);
            const retryAt = this._pausedUntil;
            for (const waiting of this.queue) await this._queued(waiting, retryAt);
            continue;
          }
          this.queue.shift();
          await this._d.fail?.(item, error);
        }
      }
    } finally {
      this._draining = false;
      this._schedule();
    }
  }
}
