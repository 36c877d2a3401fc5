/* Haven Web's service worker: no caching of conversations (by design), and Web Push.
 *
 * A push carries no content, only what the conversation's notification detail allows
 * (`{"event": "sync"}` or `{"event": "new_message", "conversation_id", "unread"}`): the
 * notification says "New message" or the count, never a name or text, and is shown inside
 * event.waitUntil (a push that shows nothing makes the browser show its own notice, and
 * Safari revokes the subscription). Clicking it opens the conversation. */
const WORDS = {
  en: { one: 'New message', many: '{n} new messages', sync: 'Something new in Haven' },
  de: { one: 'Neue Nachricht', many: '{n} neue Nachrichten', sync: 'Etwas Neues in Haven' },
};

/** @param {any} payload */
function notice(payload) {
  const words = WORDS[(self.navigator.language || 'en').slice(0, 2)] || WORDS.en;
  const conversation = typeof payload?.conversation_id === 'string' ? payload.conversation_id : '';
  const unread = Number.isInteger(payload?.unread) ? payload.unread : 0;
  if (payload?.event !== 'new_message' || !conversation) {
    return { title: 'Haven', body: words.sync, tag: 'haven', conversation: '' };
  }
  const body = unread > 1 ? words.many.replace('{n}', String(unread)) : words.one;
  return { title: 'Haven', body, tag: `conversation:${conversation}`, conversation };
}

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('push', (event) => {
  let payload = null;
  try {
    payload = event.data ? event.data.json() : null;
  } catch {
    payload = null; // not ours, or not JSON: still show the generic notice
  }
  const shown = notice(payload);
  event.waitUntil(
    self.registration.showNotification(shown.title, {
      body: shown.body,
      tag: shown.tag,
      renotify: false,
      data: { conversation: shown.conversation },
    }),
  );
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const conversation = event.notification.data?.conversation || '';
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
      const open = windows.find((w) => new URL(w.url).pathname.startsWith('/app/'));
      if (open) {
        await open.focus();
        open.postMessage({ type: 'haven.open', conversation });
        return;
      }
      const query = conversation ? `?conversation=${encodeURIComponent(conversation)}` : '';
      await self.clients.openWindow(`/app/${query}`);
    })(),
  );
});
