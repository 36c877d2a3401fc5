/** Keys at rest in the browser: an IndexedDB keystore sealed by a non-extractable AES-GCM key
 * (AAD = account|device, as Element does), a memory one for "don't keep me signed in", and the
 * sign-out wipe of everything this origin stores. */

const DB_NAME = 'haven-web';
const STORE = 'keystore';
const WRAP_KEY = 'wrap-key';
const SEALED = 'sealed-state';
const KEEP_FLAG = 'haven.keep-signed-in';

/** @returns {Promise<IDBDatabase>} */
function openDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/**
 * @param {IDBDatabase} db
 * @param {'readonly' | 'readwrite'} mode
 * @param {(store: IDBObjectStore) => IDBRequest} action
 * @returns {Promise<any>}
 */
function run(db, mode, action) {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const request = action(tx.objectStore(STORE));
    tx.oncomplete = () => resolve(request.result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

/**
 * The account and device a state belongs to, whatever the SDK calls them.
 * @param {any} state
 * @returns {string}
 */
export function bindingOf(state) {
  const account = state?.accountId ?? state?.account_id ?? state?.account?.account_id ?? '';
  const device = state?.deviceId ?? state?.device_id ?? '';
  return `haven-web-keystore-v1|${account}|${device}`;
}

/** A KeyStore (SDK interface) in IndexedDB, sealed with a non-extractable WebCrypto key. */
export class IndexedDbKeyStore {
  /** @returns {Promise<CryptoKey>} */
  async wrapKey() {
    const db = await openDb();
    try {
      const existing = await run(db, 'readonly', (s) => s.get(WRAP_KEY));
      if (existing) return existing;
      const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
      await run(db, 'readwrite', (s) => s.put(key, WRAP_KEY));
      return key;
    } finally {
      db.close();
    }
  }

  /** @returns {Promise<object | null>} */
  async load() {
    const db = await openDb();
    /** @type {{binding: string, iv: Uint8Array, data: ArrayBuffer} | undefined} */
    let sealed;
    try {
      sealed = await run(db, 'readonly', (s) => s.get(SEALED));
    } finally {
      db.close();
    }
    if (!sealed) return null;
    const key = await this.wrapKey();
    const additionalData = new TextEncoder().encode(sealed.binding);
    const plain = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: /** @type {BufferSource} */ (sealed.iv), additionalData },
      key,
      sealed.data,
    );
    const state = JSON.parse(new TextDecoder().decode(plain));
    if (bindingOf(state) !== sealed.binding) throw new Error('keystore binding does not match');
    return state;
  }

  /** @param {object} state */
  async save(state) {
    const key = await this.wrapKey();
    const binding = bindingOf(state);
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const data = await crypto.subtle.encrypt(
      { name: 'AES-GCM', iv, additionalData: new TextEncoder().encode(binding) },
      key,
      new TextEncoder().encode(JSON.stringify(state)),
    );
    const db = await openDb();
    try {
      await run(db, 'readwrite', (s) => s.put({ binding, iv, data }, SEALED));
    } finally {
      db.close();
    }
  }

  async clear() {
    const db = await openDb();
    try {
      await run(db, 'readwrite', (s) => s.clear());
    } finally {
      db.close();
    }
  }
}

/** A KeyStore that lives only as long as this tab's page: nothing survives a reload. */
export class TabKeyStore {
  /** @type {object | null} */
  #state = null;
  async load() {
    return this.#state;
  }
  /** @param {object} state */
  async save(state) {
    this.#state = structuredClone(state);
  }
  async clear() {
    this.#state = null;
  }
}

/** Whether this browser was asked to keep the user signed in. */
export function keepsSignedIn() {
  try {
    return localStorage.getItem(KEEP_FLAG) === '1';
  } catch {
    return false;
  }
}

/** @param {boolean} keep */
export async function rememberKeepChoice(keep) {
  if (!keep) {
    localStorage.removeItem(KEEP_FLAG);
    return;
  }
  localStorage.setItem(KEEP_FLAG, '1');
  try {
    await navigator.storage?.persist?.();
  } catch {
    // A denied persistence request leaves the keystore evictable; signing in still works.
  }
}

/** Sign-out and the panic wipe: IndexedDB, localStorage, sessionStorage, Cache Storage, the SW. */
export async function eraseEverything() {
  try {
    localStorage.clear();
  } catch {
    /* unavailable storage holds nothing */
  }
  try {
    sessionStorage.clear();
  } catch {
    /* unavailable storage holds nothing */
  }
  await new Promise((resolve) => {
    const request = indexedDB.deleteDatabase(DB_NAME);
    request.onsuccess = request.onerror = request.onblocked = () => resolve(undefined);
  });
  const others = (await indexedDB.databases?.()) ?? [];
  await Promise.all(
    others.map(
      (info) =>
        new Promise((resolve) => {
          if (!info.name) return resolve(undefined);
          const request = indexedDB.deleteDatabase(info.name);
          request.onsuccess = request.onerror = request.onblocked = () => resolve(undefined);
        }),
    ),
  );
  if (globalThis.caches) {
    for (const name of await caches.keys()) await caches.delete(name);
  }
  const registrations = (await navigator.serviceWorker?.getRegistrations?.()) ?? [];
  await Promise.all(registrations.map((r) => r.unregister()));
}
