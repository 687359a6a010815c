/// <reference lib="webworker" />
// The service worker: precaches the app shell so the app opens offline, serves hashed assets
// from the cache, and lets API calls through untouched. A new deployment installs a new worker
// that waits until the page asks it to take over (the update notice).

declare const self: ServiceWorkerGlobalScope;
// Defined by the build in a prefix of the worker (vite.config.ts).
declare const __CONFAB_PRECACHE__: string[];
declare const __CONFAB_BUILD_ID__: string;

const PRECACHE = __CONFAB_PRECACHE__;
const CACHE = `confab-shell-${__CONFAB_BUILD_ID__}`;
const SHELL = 'index.html';

const scopeUrl = new URL(self.registration.scope);
const cachedPaths = new Set(PRECACHE.map((f) => new URL(f, scopeUrl).pathname));

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(PRECACHE)));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys())
        if (key.startsWith('confab-shell-') && key !== CACHE) await caches.delete(key);
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('message', (event) => {
  if ((event.data as { type?: string } | null)?.type === 'skip-waiting') void self.skipWaiting();
});

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== scopeUrl.origin || !url.pathname.startsWith(scopeUrl.pathname)) return;

  if (request.mode === 'navigate') {
    // Network first so a deployment shows at once; the cached shell when offline.
    event.respondWith(
      fetch(request).catch(
        async () =>
          (await caches.match(new URL(SHELL, scopeUrl).href, { cacheName: CACHE })) ??
          Response.error(),
      ),
    );
    return;
  }
  if (cachedPaths.has(url.pathname)) {
    event.respondWith(
      caches.match(request, { cacheName: CACHE }).then((hit) => hit ?? fetch(request)),
    );
  }
});

export {};
