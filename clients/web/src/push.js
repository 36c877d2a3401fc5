/** Web Push for this browser, only after the user opts in (Settings → Notifications; never on
 * first load): the service worker, the browser's subscription under the server's VAPID key, and
 * the gateway's copy of it. Turning it off and signing out delete both. */

const WORKER = '/app/sw.js';

/** Whether this browser can do Web Push at all. */
export function pushSupported() {
  return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

/**
 * The VAPID key (base64url, no padding) as the bytes `applicationServerKey` takes.
 * @param {string} text
 */
export function keyBytes(text) {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4);
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

async function registration() {
  await navigator.serviceWorker.register(WORKER, { scope: '/app/' });
  return navigator.serviceWorker.ready;
}

/**
 * Opt in: ask for permission, subscribe, and hand the subscription to the gateway.
 * @param {any} client a HavenClient
 * @returns {Promise<'on' | 'denied'>}
 */
export async function enablePush(client) {
  const permission = await Notification.requestPermission();
  if (permission !== 'granted') return 'denied';
  const { public_key: key } = await client.api.vapidKey();
  const worker = await registration();
  const subscription =
    (await worker.pushManager.getSubscription()) ??
    (await worker.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) }));
  const { endpoint, keys } = subscription.toJSON();
  await client.setPush({ kind: 'webpush', endpoint, keys });
  return 'on';
}

/**
 * Opt out (and sign-out): the gateway forgets the subscription, the browser drops it.
 * @param {any} client a HavenClient, or null when only the browser's side is left
 */
export async function disablePush(client) {
  try {
    await client?.removePush();
  } finally {
    if ('serviceWorker' in navigator) {
      const worker = await navigator.serviceWorker.getRegistration('/app/');
      const subscription = await worker?.pushManager.getSubscription();
      await subscription?.unsubscribe();
    }
  }
}

/**
 * Whether this device has Web Push on (the gateway's word: the browser may have dropped it).
 * @param {any} client
 */
export async function pushEnabled(client) {
  const status = await client.pushStatus();
  return Boolean(status?.set) && status?.kind === 'webpush';
}

/**
 * A conversation a notification click asked to open: `?conversation=` when the click opened a
 * new window (read once, then taken out of the address), or a message from the worker.
 * @param {(id: string) => void} open
 * @returns {() => void} stop listening
 */
export function onOpenRequest(open) {
  const asked = new URLSearchParams(location.search).get('conversation');
  if (asked) {
    history.replaceState(null, '', location.pathname);
    open(asked);
  }
  /** @param {MessageEvent} event */
  const listener = (event) => {
    if (event.data?.type === 'haven.open' && typeof event.data.conversation === 'string') {
      if (event.data.conversation) open(event.data.conversation);
    }
  };
  navigator.serviceWorker?.addEventListener('message', listener);
  return () => navigator.serviceWorker?.removeEventListener('message', listener);
}
