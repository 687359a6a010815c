import { useSyncExternalStore } from 'react';

/** What the address bar shows, as the app understands it. */
export type Route =
  | { name: 'home' }
  | { name: 'room'; path: string }
  | { name: 'notFound'; pathname: string };

const base = '/meet/';

export function parseRoute(pathname: string): Route {
  if (pathname === base || pathname === base.slice(0, -1)) return { name: 'home' };
  if (pathname.startsWith(`${base}r/`)) {
    const path = decodeURIComponent(pathname.slice(`${base}r/`.length)).replace(/\/+$/, '');
    if (path) return { name: 'room', path };
  }
  return { name: 'notFound', pathname };
}

const listeners = new Set<() => void>();
const notify = () => {
  for (const l of listeners) l();
};
window.addEventListener('popstate', notify);

function subscribe(listener: () => void) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The current route; re-renders on navigation (links, back and forward). */
export function useRoute(): Route {
  const pathname = useSyncExternalStore(subscribe, () => window.location.pathname);
  return parseRoute(pathname);
}

/** Client-side navigation within the app. */
export function navigate(to: string, replace = false): void {
  if (replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  notify();
}
