/**
 * Signing in a device: keys are made and saved before the first request (a crash after the gateway
 * registered the device never loses its private keys); a stored identity key resumes the same device;
 * a `clock_skew` answer is retried once with the server's time.
 */
import { deviceKeysFromSecrets, generateDeviceKeys, signKx, signLoginProof } from './crypto.js';
import { b64d, b64e } from './encoding.js';
import { HavenApiError, HavenError } from './errors.js';

// Never the machine's name: it often carries a real one.
export const DEFAULT_DEVICE_NAME = 'Haven device';

/** @param {import('./keystore.js').State} state @returns {import('./crypto.js').DeviceKeys | null} */
export function deviceKeys(state) {
  if (!state.identitySeed || !state.kxPrivate) return null;
  return deviceKeysFromSecrets(b64d(state.identitySeed), b64d(state.kxPrivate));
}

/**
 * The `device` block of `POST /v1/sessions`.
 * @param {import('./crypto.js').DeviceKeys} keys @param {string} handle @param {string} name @param {number} ts
 */
export function deviceBlock(keys, handle, name, ts) {
  return {
    name,
    identity_key: b64e(keys.identityPublic),
    kx_key: b64e(keys.kxPublic),
    kx_signature: b64e(signKx(keys, handle)),
    ts,
    proof: b64e(signLoginProof(keys, handle, ts)),
  };
}

/**
 * @param {import('./api.js').HavenApi} api @param {import('./state.js').DeviceState} device
 * @param {{handle: string, password: string, deviceName?: string, replaceDeviceId?: string, now?: () => number}} input
 */
export async function signInDevice(api, device, input) {
  const state = device.state;
  const handle = input.handle.trim().toLowerCase();
  if (state.account && state.account.handle !== handle) {
    throw new HavenError(
      'keystore_other_account',
      'this device keeps another account’s keys; sign that account out first',
    );
  }
  let keys = deviceKeys(state);
  if (keys === null) {
    keys = generateDeviceKeys();
    state.identitySeed = b64e(keys.identitySeed);
    state.kxPrivate = b64e(keys.kxPrivate);
    state.kxCreatedAt = new Date((input.now ?? Date.now)()).toISOString();
    state.oldKx = [];
  }
  state.deviceName = input.deviceName || state.deviceName || DEFAULT_DEVICE_NAME;
  await device.save();
  /** @type {Record<string, unknown>} */
  const body = { handle, password: input.password };
  if (input.replaceDeviceId) body.replace_device_id = input.replaceDeviceId;
  const ts = Math.floor((input.now ?? Date.now)() / 1000);
  let session;
  try {
    session = await api.login({ ...body, device: deviceBlock(keys, handle, state.deviceName, ts) });
  } catch (error) {
    const serverTime = error instanceof HavenApiError ? error.body.server_time : undefined;
    if (
      !(error instanceof HavenApiError) ||
      error.code !== 'clock_skew' ||
      !Number.isSafeInteger(serverTime)
    ) {
      throw error;
    }
    // Our clock is off; the server's time keeps the proof fresh (worthless without the password).
    const block = deviceBlock(keys, handle, state.deviceName, /** @type {number} */ (serverTime));
    session = await api.login({ ...body, device: block });
  }
  state.deviceId = session.device_id;
  state.account = {
    account_id: session.account.account_id,
    handle: String(session.account.handle).toLowerCase(),
    role: session.account.role,
    display_name: session.account.display_name ?? '',
  };
  state.refreshToken = session.refresh_token;
  await device.save();
  return session;
}
