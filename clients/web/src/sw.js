/* Haven Web's service worker: minimal for now (no caching of conversations, by design). */
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
