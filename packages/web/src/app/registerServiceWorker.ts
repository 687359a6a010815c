/**
 * The worker that caches the app shell (the app works without it, only not offline), and the
 * update notice: a new deployment installs a new worker that waits; the app says so, and
 * "Reload" lets it take over and reloads once it has. Checked at start, hourly, and when the
 * tab comes back into view.
 */
const listeners = new Set<() => void>();
let waiting: ServiceWorker | undefined;

function setWaiting(worker: ServiceWorker | null | undefined): void {
  if (!worker || worker === waiting || !navigator.serviceWorker.controller) return;
  waiting = worker;
  for (const l of listeners) l();
}

export function registerServiceWorker(): void {
  if (!('serviceWorker' in navigator) || import.meta.env.DEV) return;
  window.addEventListener('load', () => {
    navigator.serviceWorker
      .register('/meet/service-worker.js', { scope: '/meet/' })
      .then((reg) => {
        setWaiting(reg.waiting);
        reg.addEventListener('updatefound', () => {
          const installing = reg.installing;
          installing?.addEventListener('statechange', () => {
            if (installing.state === 'installed') setWaiting(installing);
          });
        });
        const check = () => void reg.update().catch(() => undefined);
        setInterval(check, 60 * 60 * 1000);
        document.addEventListener('visibilitychange', () => {
          if (document.visibilityState === 'visible') check();
        });
      })
      .catch((err: unknown) => {
        console.warn('service worker registration failed', err);
      });
  });
}

/** Subscribes to "a new version is ready" (for useSyncExternalStore). */
export function subscribeUpdate(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export const updateReady = (): boolean => waiting !== undefined;

/** Lets the new version take over, then reloads into it. */
export function applyUpdate(): void {
  const worker = waiting;
  if (!worker) return;
  let reloaded = false;
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    if (reloaded) return;
    reloaded = true;
    window.location.reload();
  });
  worker.postMessage({ type: 'skip-waiting' });
}
