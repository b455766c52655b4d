// The citizen app's service worker: keeps the app shell (page, modules,
// styles, Leaflet, icons) in a versioned cache so the app opens without a
// network. Network first (the hub sends `no-cache`, so an upgraded hub is
// seen at once), the cache when the hub cannot be reached. The tenant's
// configuration and the resident's reports are kept by the page in IndexedDB,
// not here; /api and /ws are never cached. Bump VERSION when SHELL changes.

const VERSION = 'vigie-app-v3';
const PREFIX = 'vigie-app-';
const NETWORK_WAIT_MS = 3000; // then the cached copy, if any (a network that hangs)

const SHELL = [
  '/app',
  '/app/manifest.webmanifest',
  '/static/app/app.css',
  '/static/app/main.js',
  '/static/app/state.js',
  '/static/app/store.js',
  '/static/app/area.js',
  '/static/app/pictos.js',
  '/static/app/position.js',
  '/static/app/views/map.js',
  '/static/app/views/nearby.js',
  '/static/app/views/notices.js',
  '/static/app/views/report.js',
  '/static/app/views/timeline.js',
  '/static/app/icons/icon.svg',
  '/static/app/icons/icon-192.png',
  '/static/app/icons/icon-512.png',
  '/static/shared/api.js',
  '/static/shared/auth.js',
  '/static/shared/connection.js',
  '/static/shared/dom.js',
  '/static/shared/errors.js',
  '/static/shared/i18n.js',
  '/static/shared/i18n/en.js',
  '/static/shared/i18n/fr.js',
  '/static/shared/status.js',
  '/static/shared/time.js',
  '/static/shared/theme.css',
  '/static/leaflet/leaflet.css',
  '/static/leaflet/leaflet.js',
];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(VERSION).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith(PREFIX) && name !== VERSION) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin || !inShell(url.pathname)) return;
  // The page is one document whatever its query (?lang=): one cache entry.
  const key = event.request.mode === 'navigate' ? '/app' : event.request;
  event.respondWith(networkFirst(event.request, key));
});

function inShell(path) {
  return path === '/app' || path.startsWith('/app/') || path.startsWith('/static/');
}

async function networkFirst(request, key) {
  const cache = await caches.open(VERSION);
  const network = fetch(request).then((response) => {
    if (response.ok) cache.put(key, response.clone());
    return response;
  });
  network.catch(() => {}); // seen below when it matters; no unhandled rejection otherwise
  const late = new Promise((resolve) => setTimeout(resolve, NETWORK_WAIT_MS, null));
  try {
    const first = await Promise.race([network, late]);
    if (first) return first;
  } catch {
    // unreachable hub: fall back to the cache below
  }
  const cached = await cache.match(key, { ignoreSearch: true });
  return cached ?? network;
}
