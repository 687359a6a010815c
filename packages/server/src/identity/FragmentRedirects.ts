/**
 * Redirect URIs with a fragment, as Kopano Meet's sign-in library (kpop) builds them for the
 * built-in web client: `<origin>/meet/#oidc-callback`, `#oidc-silent-refresh`,
 * `#oidc-endsession-callback`. OAuth forbids fragments in redirect URIs, and oidc-provider keeps
 * them out of client registrations; Konnect matched such a URI on its part before the `#` and
 * put its response parameters after the fragment, joined with `&`. Confab does the same, for the
 * built-in client only and for fragments that are one plain word:
 *
 * - a URI `<registered>#<word>` is allowed where `<registered>` is (`allows`), so the code keeps
 *   the URI as the client sent it and the token request, which repeats it, matches;
 * - the fragment of a request is remembered by its `state`, and the redirect that answers it
 *   (oidc-provider replaces the fragment with its parameters, or adds them to the query) is
 *   rewritten to `<registered>#<word>&<parameters>`.
 */
export class FragmentRedirects {
  readonly #byState = new Map<string, { base: string; fragment: string; until: number }>();

  /** How long a request's fragment is remembered (a sign-in page left open as long). */
  static readonly ttlMs = 10 * 60_000;
  /** At most this many remembered at once: more push the oldest out. */
  static readonly max = 10_000;

  /** `<base>#<word>` split, when the fragment is one plain word; undefined otherwise. */
  static split(uri: string): { base: string; fragment: string } | undefined {
    const at = uri.indexOf('#');
    if (at < 0) return undefined;
    const fragment = uri.slice(at + 1);
    if (!/^[A-Za-z0-9._~-]{1,64}$/.test(fragment)) return undefined;
    return { base: uri.slice(0, at), fragment };
  }

  /** Whether `uri` is `<an allowed URI>#<word>`. */
  static allows(uri: unknown, allowed: (base: string) => boolean): boolean {
    const split = typeof uri === 'string' ? FragmentRedirects.split(uri) : undefined;
    return split !== undefined && allowed(split.base);
  }

  /**
   * Remembers the fragment of a request's redirect URI by the request's `state`, when its base is
   * one of `bases` (the built-in client's registered URIs): a redirect elsewhere is never touched.
   */
  remember(state: unknown, uri: unknown, bases: ReadonlySet<string>): void {
    if (typeof state !== 'string' || !state || state.length > 512 || typeof uri !== 'string')
      return;
    const split = FragmentRedirects.split(uri);
    if (!split || !bases.has(split.base)) return;
    // The oldest goes first (entries are kept in the order they came).
    if (this.#byState.size >= FragmentRedirects.max) {
      const oldest = this.#byState.keys().next();
      if (!oldest.done) this.#byState.delete(oldest.value);
    }
    this.#byState.delete(state);
    this.#byState.set(state, {
      base: split.base,
      fragment: split.fragment,
      until: Date.now() + FragmentRedirects.ttlMs,
    });
  }

  /** A redirect's `Location`, rewritten when it answers a request whose fragment is remembered. */
  rewrite(location: string): string {
    if (this.#byState.size === 0) return location;
    let url: URL;
    try {
      url = new URL(location);
    } catch {
      return location;
    }
    const params = new URLSearchParams(url.search);
    const hash = url.hash.slice(1);
    const fromHash = hash.includes('=') ? new URLSearchParams(hash) : undefined;
    const state = params.get('state') ?? fromHash?.get('state');
    const entry = state ? this.#byState.get(state) : undefined;
    const base = `${url.origin}${url.pathname}`;
    if (!state || !entry || entry.until <= Date.now() || entry.base !== base) return location;
    this.#byState.delete(state);
    for (const [k, v] of fromHash ?? []) params.append(k, v);
    return `${base}#${entry.fragment}&${params.toString()}`;
  }
}
