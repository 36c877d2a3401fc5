/**
 * Scheduled kx rotation (haven-v1 has no forward secrecy: rotating bounds what one leaked kx key
 * opens). Rule for old private kx keys: a key retired at R can only be needed by messages sealed
 * before senders saw the new key (a day's grace covers cached listings and outboxes), and those
 * disappear `retention_days` after they were stored. So a retired key is dropped once
 * now > R + grace + the longest retention among this account's conversations; while any
 * conversation keeps messages forever (retention null, or not yet known), old keys are kept.
 */
import { withNewKx, signKx } from './crypto.js';
import { b64e } from './encoding.js';
import { HavenApiError, HavenError } from './errors.js';
import { deviceKeys } from './session.js';

export const DEFAULT_KX_INTERVAL_MS = 7 * 24 * 3600_000;
export const KX_GRACE_MS = 24 * 3600_000;
const DAY_MS = 24 * 3600_000;

/**
 * Drop retired kx keys no kept message can need any more (the rule above).
 * @param {import('./keystore.js').State} state @param {number} now @returns {boolean} something was dropped
 */
export function pruneOldKx(state, now) {
  const retentions = Object.values(state.conversations).map((c) => c.retention_days);
  if (retentions.length && retentions.some((r) => r === null || r === undefined)) return false;
  const longest = Math.max(0, ...retentions.map((r) => Number(r))) * DAY_MS;
  const before = state.oldKx.length;
  // A retirement time that cannot be read counts as now: kept for a full period from here.
  state.oldKx = state.oldKx.map((k) =>
    Number.isFinite(Date.parse(k.retiredAt)) ? k : { ...k, retiredAt: new Date(now).toISOString() },
  );
  state.oldKx = state.oldKx.filter((k) => now <= Date.parse(k.retiredAt) + KX_GRACE_MS + longest);
  return state.oldKx.length !== before;
}

/**
 * Rotate when the current kx key is `intervalMs` old. The new key is saved (the old one kept) before
 * the server hears of it; a definite refusal rolls back.
 * @param {import('./api.js').HavenApi} api @param {import('./state.js').DeviceState} device
 * @param {number} now @param {number} intervalMs @returns {Promise<boolean>} rotated
 */
export async function rotateKxIfDue(api, device, now, intervalMs) {
  const state = device.state;
  const created = state.kxCreatedAt ? Date.parse(state.kxCreatedAt) : NaN;
  if (Number.isFinite(created) && now - created < intervalMs) {
    if (pruneOldKx(state, now)) await device.save();
    return false;
  }
  await rotateKx(api, device, now);
  return true;
}

/**
 * @param {import('./api.js').HavenApi} api @param {import('./state.js').DeviceState} device @param {number} now
 */
export async function rotateKx(api, device, now) {
  const state = device.state;
  const keys = deviceKeys(state);
  if (!keys || !state.deviceId || !state.account || !state.kxPrivate) {
    throw new HavenError('not_signed_in', 'sign in first');
  }
  const rotated = withNewKx(keys);
  const before = {
    kxPrivate: state.kxPrivate,
    kxCreatedAt: state.kxCreatedAt,
    oldKx: [...state.oldKx],
  };
  state.oldKx = [
    ...state.oldKx,
    { private: state.kxPrivate, retiredAt: new Date(now).toISOString() },
  ];
  state.kxPrivate = b64e(rotated.kxPrivate);
  state.kxCreatedAt = new Date(now).toISOString();
  await device.save();
  try {
    await api.rotateKx(state.deviceId, {
      kx_key: b64e(rotated.kxPublic),
      kx_signature: b64e(signKx(rotated, state.account.handle)),
    });
  } catch (error) {
    if (error instanceof HavenApiError) {
      // Definitely refused: go back. (On a network error both keys stay held, and the
      // sender uses whichever one the server lists.)
      Object.assign(state, before);
      await device.save();
    }
    throw error;
  }
  pruneOldKx(state, now);
  await device.save();
}
