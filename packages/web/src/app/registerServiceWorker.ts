/** Registers the worker that caches the app shell; the app works without it, only not offline. */
export function registerServiceWorker(): void {
  if (!('serviceWorker' in navigator) || import.meta.env.DEV) return;
  window.addEventListener('load', () => {
    navigator.serviceWorker
      .register('/meet/service-worker.js', { scope: '/meet/' })
      .catch((err: unknown) => {
        console.warn('service worker registration failed', err);
      });
  });
}
