import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

/** Debian's Chromium (TESTING.md); never a downloaded browser. */
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Flags that make Chromium work headless, as root, on loopback only, with fake media. */
export const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  '--allow-loopback-in-peer-connection',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
];

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, headless: true });
}

export interface User {
  context: BrowserContext;
  page: Page;
  /** Console errors and page errors seen so far (CSP violations show up here). */
  errors: string[];
  close(): Promise<void>;
}

/**
 * A user: a fresh browser context (own storage, own service workers) with one page. Every
 * RTCPeerConnection the page creates is tracked in `window.__confabPeerConnections` so tests can
 * read its stats.
 */
export async function openUser(
  browser: Browser,
  baseUrl: string,
  opts: {
    permissions?: string[];
    /** Cameras at 320x240, 15 fps (many encoders on two cores). */
    smallVideo?: boolean;
    /**
     * The camera's size (default 640x480, what the fake camera gives by itself, although the
     * app asks for 720p: a test page then costs what it did before simulcast).
     */
    camera?: { width: number; height: number };
    /** Default 1024 × 700; a phone is 390 × 844. */
    viewport?: { width: number; height: number };
    isMobile?: boolean;
    /** Lets the test add scripts of its own to Confab's pages (test/interop's clients). */
    bypassCSP?: boolean;
  } = {},
): Promise<User> {
  const context = await browser.newContext({
    baseURL: baseUrl,
    ...(opts.bypassCSP ? { bypassCSP: true } : {}),
    permissions: opts.permissions ?? ['camera', 'microphone'],
    viewport: opts.viewport ?? { width: 1024, height: 700 },
    ...(opts.isMobile ? { isMobile: true, hasTouch: true } : {}),
  });
  // tsx compiles tests with esbuild's keepNames, which wraps named functions in `__name(...)`;
  // functions passed to the page then need that helper there too.
  await context.addInitScript({ content: 'globalThis.__name ??= (fn) => fn;' });
  await context.addInitScript(() => {
    const tracked: RTCPeerConnection[] = [];
    (
      window as unknown as { __confabPeerConnections: RTCPeerConnection[] }
    ).__confabPeerConnections = tracked;
    const Native = window.RTCPeerConnection;
    if (!Native) return;
    class TrackedPeerConnection extends Native {
      constructor(config?: RTCConfiguration) {
        super(config);
        tracked.push(this);
      }
    }
    window.RTCPeerConnection = TrackedPeerConnection;
    // The page's WebSockets, so that a test can drop its signaling as a network would.
    const sockets: WebSocket[] = [];
    (window as unknown as { __confabSockets: WebSocket[] }).__confabSockets = sockets;
    const NativeSocket = window.WebSocket;
    class TrackedSocket extends NativeSocket {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols);
        sockets.push(this);
      }
    }
    window.WebSocket = TrackedSocket;
  });
  const camera = opts.smallVideo
    ? { width: 320, height: 240, frameRate: 15 }
    : (opts.camera ?? { width: 640, height: 480 });
  await context.addInitScript((size) => {
    const md = navigator.mediaDevices;
    if (!md) return;
    const original = md.getUserMedia.bind(md);
    md.getUserMedia = (c?: MediaStreamConstraints) => {
      if (c?.video) {
        const base = typeof c.video === 'object' ? c.video : {};
        c = { ...c, video: { ...base, ...size } };
      }
      return original(c);
    };
  }, camera);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  page.on('pageerror', (err) => errors.push(err.message));
  return { context, page, errors, close: () => context.close() };
}
