/**
 * Options a room link carries in its fragment (Kopano Meet's, SPEC §3 "URL fragment options"):
 * `guest=1` joins as a guest when not signed in, `name=` is the guest's name, `auto=1|2` joins
 * at once (1: camera off, 2: with video), `mute=1|2|3` starts with the microphone, the camera
 * or both off. Read once when the app starts and taken out of the address bar, they are kept
 * for this tab (sessionStorage) so that they survive the sign-in redirects, and apply to the
 * room whose link carried them.
 */
export interface LinkOptions {
  /** The app path the link opened (`/meet/r/...`). */
  pathname: string;
  guest: boolean;
  name: string | undefined;
  auto: 'audio' | 'video' | undefined;
  micOff: boolean;
  camOff: boolean;
}

const storageKey = 'confab.link-options';
const known = new Set(['guest', 'name', 'auto', 'mute']);

/** Parses a fragment (`#guest=1&name=...`); undefined when it names none of the options. */
export function parseLinkOptions(hash: string, pathname: string): LinkOptions | undefined {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  if (![...params.keys()].some((k) => known.has(k))) return undefined;
  const mute = params.get('mute');
  const auto = params.get('auto');
  const name = params.get('name')?.trim().slice(0, 256);
  return {
    pathname,
    guest: params.get('guest') === '1',
    name: name || undefined,
    auto: auto === '1' ? 'audio' : auto === '2' ? 'video' : undefined,
    micOff: mute === '1' || mute === '3',
    camOff: mute === '2' || mute === '3',
  };
}

/**
 * At start: takes the options out of the address (keeping any other fragment) and remembers
 * them for this tab. A link without options leaves what an earlier one left (a sign-in
 * redirect comes back without the fragment).
 */
export function captureLinkOptions(): void {
  const { pathname, search, hash } = window.location;
  const options = parseLinkOptions(hash, pathname);
  if (!options) return;
  try {
    window.sessionStorage.setItem(storageKey, JSON.stringify(options));
  } catch {
    // Storage blocked: the options are lost with the redirect, the room still opens.
  }
  const rest = new URLSearchParams(hash.replace(/^#/, ''));
  for (const k of known) rest.delete(k);
  const left = rest.toString();
  window.history.replaceState(
    window.history.state,
    '',
    `${pathname}${search}${left ? `#${left}` : ''}`,
  );
}

/** The options of the link that opened `pathname` in this tab, if any. */
export function linkOptionsFor(pathname: string): LinkOptions | undefined {
  try {
    const raw = JSON.parse(
      window.sessionStorage.getItem(storageKey) ?? 'null',
    ) as LinkOptions | null;
    return raw && raw.pathname === pathname ? raw : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Once applied (the room joined at once, the devices set), a reload does not apply `auto` and
 * `mute` again; `guest` and `name` stay for the tab's guest sign-in.
 */
export function markLinkOptionsUsed(pathname: string): void {
  const options = linkOptionsFor(pathname);
  if (!options) return;
  try {
    window.sessionStorage.setItem(
      storageKey,
      JSON.stringify({ ...options, auto: undefined, micOff: false, camOff: false }),
    );
  } catch {
    // Nothing kept.
  }
}
