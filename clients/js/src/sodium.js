/** The one place that loads libsodium: the standard build at once, the sumo build (argon2id) only on demand. */
import sodiumModule from 'libsodium-wrappers';

/** @typedef {typeof sodiumModule} Sodium */

let loaded = false;

/**
 * Wait until libsodium's wasm is ready; every crypto call of the SDK needs this first.
 * @returns {Promise<void>}
 */
export async function sodiumReady() {
  await sodiumModule.ready;
  loaded = true;
}

/**
 * The ready library; throws if `sodiumReady()` was never awaited (a bug, not a user error).
 * @returns {Sodium}
 */
export function sodium() {
  if (!loaded) throw new Error('call and await sodiumReady() before any crypto');
  return sodiumModule;
}

/** @type {Promise<any> | null} */
let sumoPromise = null;

/**
 * The sumo build, imported lazily so an app's first load never pays for argon2id.
 * @returns {Promise<any>}
 */
export function sodiumSumo() {
  if (sumoPromise === null) {
    sumoPromise = import('libsodium-wrappers-sumo').then(async (mod) => {
      const lib = mod.default;
      await lib.ready;
      return lib;
    });
  }
  return sumoPromise;
}
