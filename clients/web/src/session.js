/** The signed-in session: one HavenClient from haven-sdk, shaped for the screens (plain objects
 * with the same names whatever the SDK's casing), plus the crisis resources cached at sign-in. */
import { HavenClient } from 'haven-sdk';
import { IndexedDbKeyStore, TabKeyStore, keepsSignedIn, rememberKeepChoice, eraseEverything } from './storage.js';
import { disablePush } from './push.js';
import { filesOf } from './files.js';

/**
 * First defined field among several spellings (the SDK may pass API objects through).
 * @param {any} object
 * @param {...string} names
 * @returns {any}
 */
export function pick(object, ...names) {
  if (object == null) return undefined;
  for (const name of names) if (object[name] !== undefined) return object[name];
  return undefined;
}

/** @typedef {{accountId: string, handle: string, displayName: string, role: string}} Person */
/** @typedef {{name: string, contact: string, description: string, region: string}} Resource */

/**
 * @param {any} raw
 * @returns {Person}
 */
export function person(raw) {
  return {
    accountId: pick(raw, 'accountId', 'account_id') ?? '',
    handle: pick(raw, 'handle') ?? '',
    displayName: pick(raw, 'displayName', 'display_name') || pick(raw, 'handle') || '',
    role: pick(raw, 'role') ?? '',
  };
}

/**
 * @param {any} raw
 * @param {string} myAccountId
 */
export function conversation(raw, myAccountId) {
  const participants = (pick(raw, 'participants') ?? []).map(person);
  const counterpart =
    participants.find((/** @type {Person} */ p) => p.accountId !== myAccountId) ?? participants[0] ?? person({});
  const pause = pick(raw, 'pause');
  return {
    id: pick(raw, 'conversationId', 'conversation_id', 'id') ?? '',
    status: pick(raw, 'status') ?? 'active',
    counterpart,
    lastSeq: pick(raw, 'lastSeq', 'last_seq') ?? 0,
    readUpTo: pick(raw, 'readUpTo', 'read_up_to') ?? 0,
    unread: pick(raw, 'unread', 'unreadCount'),
    pause: pause
      ? { reason: pick(pause, 'reason') ?? '', resumeOn: pick(pause, 'resumeOn', 'resume_on') ?? null }
      : null,
    retentionDays: pick(raw, 'retentionDays', 'retention_days') ?? null,
    settings: pick(raw, 'settings') ?? {},
  };
}
/** @typedef {ReturnType<typeof conversation>} Conversation */

/**
 * A message from history or the socket (the SDK's MessageView) as a chat item.
 * @param {any} raw
 * @param {string} myAccountId
 * @returns {import('./state.js').ChatItem}
 */
export function chatItem(raw, myAccountId) {
  const sender = pick(raw, 'senderAccountId', 'sender_account_id') ?? '';
  const kind = pick(raw, 'kind') ?? 'message';
  return {
    id: pick(raw, 'messageId', 'message_id') ?? '',
    seq: pick(raw, 'seq') ?? null,
    senderAccountId: sender,
    mine: Boolean(pick(raw, 'outgoing')) || sender === myAccountId,
    text: kind === 'message' ? (pick(raw, 'body', 'text') ?? '') : '',
    at: pick(raw, 'serverTs', 'server_ts') ?? new Date().toISOString(),
    urgent: Boolean(pick(raw, 'urgent')),
    deleted: kind === 'deleted' || Boolean(pick(raw, 'deleted')),
    unreadable: kind === 'failed' && !pick(raw, 'predatesDevice'),
    predates: kind === 'failed' && Boolean(pick(raw, 'predatesDevice')),
    state: null,
    code: null,
    ...filesOf(raw),
  };
}

/**
 * @param {any} raw
 * @returns {Resource[]}
 */
export function resources(raw) {
  const list = Array.isArray(raw) ? raw : (pick(raw, 'resources') ?? []);
  return list.map((/** @type {any} */ r) => ({
    name: r.name ?? '',
    contact: r.contact ?? '',
    description: r.description ?? '',
    region: r.region ?? '',
  }));
}

/** The crisis resources, fetched at sign-in so they show with no network at all. */
export const crisis = {
  /** @type {Resource[]} */
  list: [],
  /** @param {any} client */
  async load(client) {
    try {
      this.list = resources(await client.crisisResources());
    } catch {
      // Offline with nothing cached: the chat still shows the emergency line.
    }
    return this.list;
  },
};

/** @param {boolean} keep */
function keyStoreFor(keep) {
  return keep ? new IndexedDbKeyStore() : new TabKeyStore();
}

function deviceName() {
  const agent = navigator.userAgent;
  const browser = /Firefox/.test(agent)
    ? 'Firefox'
    : /Edg\//.test(agent)
      ? 'Edge'
      : /Chrom/.test(agent)
        ? 'Chromium'
        : /Safari/.test(agent)
          ? 'Safari'
          : 'Browser';
  return `Haven Web (${browser})`;
}

/**
 * Without "keep me signed in" the device's keys live only in this tab: when the tab goes (close,
 * reload, Leave quickly), revoke the device so no orphan stays in the counterpart's key list.
 * @param {any} client @param {boolean} keep
 */
function releaseWithTheTab(client, keep) {
  if (!keep) window.addEventListener('pagehide', () => client.releaseOnUnload(), { once: true });
}

/**
 * @param {{handle: string, password: string, keep: boolean}} input
 * @returns {Promise<any>} a HavenClient
 */
export async function signIn({ handle, password, keep }) {
  const keyStore = keyStoreFor(keep);
  await rememberKeepChoice(keep);
  const client = await HavenClient.signIn({ handle, password, deviceName: deviceName(), keyStore });
  await crisis.load(client);
  releaseWithTheTab(client, keep);
  return client;
}

/**
 * @param {{handle: string, password: string, inviteCode: string, displayName: string, keep: boolean}} input
 */
export async function register(input) {
  const keyStore = keyStoreFor(input.keep);
  await rememberKeepChoice(input.keep);
  const client = await HavenClient.register({
    handle: input.handle,
    password: input.password,
    inviteCode: input.inviteCode,
    displayName: input.displayName || input.handle,
    deviceName: deviceName(),
    keyStore,
  });
  await crisis.load(client);
  releaseWithTheTab(client, input.keep);
  return client;
}

/** A session kept from an earlier visit, when "keep me signed in" was chosen; else null. */
export async function resume() {
  if (!keepsSignedIn()) return null;
  const keyStore = new IndexedDbKeyStore();
  const state = await keyStore.load().catch(() => null);
  if (!state) {
    await eraseEverything();
    return null;
  }
  const client = await HavenClient.resume({ keyStore });
  if (client) await crisis.load(client);
  return client;
}

/**
 * Sign out: the server forgets this device's session, then everything stored here goes.
 * @param {any} client
 */
export async function signOut(client) {
  try {
    if (client) await disablePush(client); // no pushes for a device nobody is signed in on
  } catch {
    // Offline: the browser's subscription still goes with its service worker (below).
  }
  try {
    await client?.signOut();
  } catch {
    // Offline: the local wipe below still happens.
  }
  await eraseEverything();
}

/**
 * The panic wipe (an explicit choice): revoke this device, erase its keys and all storage.
 * @param {any} client
 */
export async function panic(client) {
  try {
    await client?.panic();
  } finally {
    await eraseEverything();
  }
}
