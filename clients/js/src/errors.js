/** Errors the SDK throws on purpose: each carries a stable `code` an app can branch on. */

/** Base of every error the SDK raises deliberately. */
export class HavenError extends Error {
  /**
   * @param {string} code stable snake_case code, e.g. `not_signed_in`
   * @param {string} [message]
   * @param {Record<string, unknown>} [extra] fields for the app (e.g. `draft`, `accountIds`)
   */
  constructor(code, message = code, extra = {}) {
    super(message);
    this.name = 'HavenError';
    this.code = code;
    /** @type {Record<string, unknown>} */
    this.extra = extra;
    /** A refused send keeps its text here, so the app can keep it as a draft. @type {string | null} */
    this.draft = null;
  }

  /** Crisis resources to show with this answer (urgent sends); empty when none came. */
  get crisisResources() {
    const value = this.extra.crisis_resources;
    return Array.isArray(value) ? value : [];
  }
}

/** A problem+json answer of the gateway (RFC 9457), or a WebSocket `error` frame. */
export class HavenApiError extends HavenError {
  /**
   * @param {number} status HTTP status (0 for a WebSocket error frame)
   * @param {Record<string, any>} body the problem body as received
   * @param {number | null} [retryAfter] seconds, from `Retry-After` or the frame's `retry_after`
   */
  constructor(status, body, retryAfter = null) {
    const code = typeof body.code === 'string' && body.code ? body.code : `http_${status}`;
    const detail = typeof body.detail === 'string' ? body.detail : '';
    super(code, detail ? `${status} ${code}: ${detail}` : `${status} ${code}`);
    this.name = 'HavenApiError';
    this.status = status;
    this.detail = detail;
    /** @type {number | null} */
    this.retryAfter = retryAfter ?? numberOrNull(body.retry_after);
    /** Validation errors (422) name the offending fields: `[{field, message}]`. */
    this.fields = Array.isArray(body.errors) ? body.errors : [];
    this.body = body;
  }

  /**
   * Every answer to an urgent send carries the crisis resources (API.md).
   * @override
   */
  get crisisResources() {
    const value = this.body.crisis_resources;
    return Array.isArray(value) ? value : [];
  }
}

/** A protocol-level crypto failure; library errors never leak past `crypto.js`. */
export class CryptoError extends HavenError {
  /** @param {string} message @param {string | null} [field] the envelope field at fault */
  constructor(message, field = null) {
    super('crypto_error', message);
    this.name = 'CryptoError';
    this.field = field;
  }
}

/** A device's keys cannot be trusted (bad kx_signature, low-order key, wrong account, changed key). */
export class UntrustedDevice extends HavenError {
  /** @param {string} deviceId @param {string} reason */
  constructor(deviceId, reason) {
    super('untrusted_device', `device ${deviceId}: ${reason}`);
    this.name = 'UntrustedDevice';
    this.deviceId = deviceId;
    this.reason = reason;
  }
}

/** @param {unknown} value @returns {number | null} */
function numberOrNull(value) {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}
