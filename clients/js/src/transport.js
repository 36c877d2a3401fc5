/**
 * HTTP to the gateway with the session's tokens: bearer auth, refresh ahead of expiry and on 401,
 * problem+json turned into `HavenApiError`. Refreshes are single-flight, because the gateway treats
 * a refresh token presented twice (after 30 s) as theft and revokes the whole device session.
 */
import { HavenApiError, HavenError } from './errors.js';

const MAX_MARGIN_MS = 60_000;

/**
 * @typedef {object} SessionTokens what login and refresh answer
 * @property {string} access_token
 * @property {string} refresh_token
 * @property {number} expires_in seconds
 * @property {string} [device_id]
 * @property {Record<string, any>} [account]
 */

/**
 * @typedef {object} TransportOptions
 * @property {string} [baseUrl] '' = same origin (browsers); e.g. 'http://127.0.0.1:8080'
 * @property {typeof fetch} [fetch]
 * @property {() => number} [now] milliseconds clock
 * @property {(tokens: SessionTokens) => void | Promise<void>} [onSession] persist the new refresh token
 * @property {() => void} [onSignedOut] the session can no longer be refreshed
 */

export class Transport {
  /** @param {TransportOptions} [options] */
  constructor(options = {}) {
    this.baseUrl = (options.baseUrl ?? '').replace(/\/+$/, '');
    this._fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this._now = options.now ?? Date.now;
    this._onSession = options.onSession ?? null;
    this._onSignedOut = options.onSignedOut ?? null;
    /** @type {string | null} */
    this._access = null;
    /** @type {string | null} */
    this.refreshToken = null;
    this._expiresAt = 0;
    this._lifetime = 0;
    /** @type {Promise<void> | null} */
    this._refreshing = null;
    /** @type {Set<(token: string) => void>} */
    this._listeners = new Set();
  }

  /** @returns {boolean} a session is held (access or refresh token) */
  get hasSession() {
    return this._access !== null || this.refreshToken !== null;
  }

  /** Adopt a login or refresh answer. @param {SessionTokens} tokens */
  async install(tokens) {
    this._access = tokens.access_token;
    this.refreshToken = tokens.refresh_token;
    this._lifetime = tokens.expires_in * 1000;
    this._expiresAt = this._now() + this._lifetime;
    if (this._onSession) await this._onSession(tokens);
    for (const listener of [...this._listeners]) listener(tokens.access_token);
  }

  /** Continue a stored session: the next call refreshes with this token. @param {string} token */
  adoptRefreshToken(token) {
    this._access = null;
    this.refreshToken = token;
  }

  /**
   * Revoke a device with a request that outlives the page (`keepalive`), fire and forget: for a
   * tab that keeps no keys and is going away. Nothing happens without a current access token.
   * @param {string} deviceId
   */
  releaseDevice(deviceId) {
    if (this._access === null) return;
    const path = `/v1/devices/${encodeURIComponent(deviceId)}`;
    this._fetch(this.baseUrl + path, {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${this._access}` },
      keepalive: true,
    }).catch(() => {});
  }

  /** Forget the tokens (sign-out, or the session ended). */
  forget() {
    this._access = null;
    this.refreshToken = null;
    this._expiresAt = 0;
  }

  /** @param {(token: string) => void} listener called with every new access token @returns {() => void} */
  onNewToken(listener) {
    this._listeners.add(listener);
    return () => this._listeners.delete(listener);
  }

  /** @returns {number} ms until the token should be renewed: a quarter of its life early, at most a minute */
  msUntilRefresh() {
    const margin = Math.min(MAX_MARGIN_MS, this._lifetime / 4);
    return Math.max(0, this._expiresAt - margin - this._now());
  }

  /** @returns {Promise<string>} a fresh access token */
  async accessToken() {
    if (this._access === null || this.msUntilRefresh() <= 0) await this.refresh(this._access);
    if (this._access === null) throw new HavenError('not_signed_in', 'no session: sign in first');
    return this._access;
  }

  /**
   * Renew once for every caller that saw the same `stale` token.
   * @param {string | null} [stale]
   */
  async refresh(stale = null) {
    while (this._refreshing) await this._refreshing.catch(() => {});
    if (this._access !== null && this._access !== stale) return;
    this._refreshing = this._doRefresh();
    try {
      await this._refreshing;
    } finally {
      this._refreshing = null;
    }
  }

  async _doRefresh() {
    const token = this.refreshToken;
    if (token === null) throw new HavenError('not_signed_in', 'no session: sign in first');
    let body;
    try {
      body = await this.request('POST', '/v1/sessions/refresh', {
        body: { refresh_token: token },
        auth: false,
      });
    } catch (error) {
      if (error instanceof HavenApiError && (error.status === 401 || error.status === 403)) {
        this.forget();
        this._onSignedOut?.();
        throw new HavenError('session_expired', 'the session ended; sign in again');
      }
      throw error;
    }
    await this.install(body);
  }

  /**
   * The parsed JSON body (null for 204); a 401 is retried once after a refresh.
   * @param {string} method @param {string} path
   * @param {{body?: unknown, query?: Record<string, string | number | undefined>, auth?: boolean, raw?: boolean}} [options]
   * @returns {Promise<any>}
   */
  async request(method, path, options = {}) {
    if (options.auth === false) return this._send(method, path, options, null);
    const token = await this.accessToken();
    try {
      return await this._send(method, path, options, token);
    } catch (error) {
      if (!(error instanceof HavenApiError) || error.status !== 401) throw error;
      await this.refresh(token);
      return this._send(method, path, options, await this.accessToken());
    }
  }

  /**
   * @param {string} method @param {string} path
   * @param {{body?: unknown, query?: Record<string, string | number | undefined>, raw?: boolean}} options
   * @param {string | null} token
   */
  async _send(method, path, options, token) {
    /** @type {Record<string, string>} */
    const headers = { Accept: 'application/json' };
    if (token !== null) headers.Authorization = `Bearer ${token}`;
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await this._fetch(this.baseUrl + path + query(options.query), {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      credentials: 'omit',
    });
    if (response.status === 204) return null;
    if (response.ok && options.raw) return response;
    const text = await response.text();
    let body;
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      body = {};
    }
    if (!response.ok) {
      const problem = typeof body === 'object' && body !== null ? body : {};
      throw new HavenApiError(
        response.status,
        problem,
        retryAfter(response.headers.get('Retry-After')),
      );
    }
    return body;
  }

  /** @returns {string} the WebSocket URL (same origin when `baseUrl` is '') */
  wsUrl() {
    const base = this.baseUrl || globalThis.location?.origin || '';
    if (!base) throw new HavenError('invalid_base_url', 'a base URL is needed outside a browser');
    return base.replace(/^http/, 'ws') + '/v1/ws';
  }
}

/** @param {Record<string, string | number | undefined> | undefined} params */
function query(params) {
  if (!params) return '';
  const entries = Object.entries(params).filter(([, v]) => v !== undefined);
  if (entries.length === 0) return '';
  return '?' + new URLSearchParams(entries.map(([k, v]) => [k, String(v)])).toString();
}

/** @param {string | null} value @returns {number | null} seconds */
function retryAfter(value) {
  if (value === null) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}
