import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  type BridgeMessage,
  type BridgeMessageOf,
  bridgeControlPath,
  bridgeMessageSchema,
  type FocusMessage,
} from '@confab/protocol';
import { Counter, Gauge, type Registry } from 'prom-client';
import { type WebSocket, WebSocketServer } from 'ws';
import { refuseUpgrade } from '../gateway/index.js';
import type { Logger } from '../logging/index.js';

/**
 * What a bridge says about one endpoint of a conference, passed whole from the bridge through
 * the hub and the focus to the conference: its offer, its own ICE candidate, its connection's
 * state, a session full of m-lines, or the dominant speaker.
 */
export type EndpointMessage = BridgeMessageOf<
  'offer' | 'candidate' | 'endpoint_state' | 'endpoint_full' | 'speaker'
>;

/** What the focus hears from its bridges. */
export interface BridgeEvents {
  /** A message about one endpoint, as the bridge sent it (validated). */
  bridgeEndpoint(bridge: BridgeLink, message: EndpointMessage): void;
  /**
   * The bridge sent something about one endpoint that breaks the control protocol (too large,
   * malformed): that endpoint is lost, the bridge and its other conferences are not.
   */
  bridgeEndpointBroken(bridge: BridgeLink, conference: string, endpoint: string, why: string): void;
  bridgeGone(bridge: BridgeLink): void;
  bridgeJoined(bridge: BridgeLink): void;
}

/**
 * A bridge connected to the focus over the control protocol. It keeps the endpoints the focus
 * placed on it (the load that picks a bridge) from the orders themselves: `allocate` adds one,
 * `release` and `expire` take them away, so the count cannot drift from what the bridge was told.
 */
export class BridgeLink {
  name = '';
  ice: { address: string; port: number } | undefined;
  /** Endpoint ids by conference id. */
  readonly #placed = new Map<string, Set<string>>();
  ready = false;
  /** The running totals of the last load report. */
  totals = { forwardedPackets: 0, forwardedBytes: 0, retransmittedPackets: 0 };
  /** When the bridge last answered a heartbeat (or said anything). */
  heardAt = Date.now();

  constructor(readonly ws: WebSocket) {}

  /** Endpoints the focus placed on this bridge and has not released. */
  get endpoints(): number {
    let n = 0;
    for (const eps of this.#placed.values()) n += eps.size;
    return n;
  }

  /** Orders an endpoint for `user` (its offer follows); `held`: a prejoin's (`admit` later). */
  allocate(conference: string, endpoint: string, user: string, held = false): void {
    let eps = this.#placed.get(conference);
    if (!eps) {
      eps = new Set();
      this.#placed.set(conference, eps);
    }
    eps.add(endpoint);
    this.#send({ type: 'allocate', conference, endpoint, user, ...(held ? { held } : {}) });
  }

  release(conference: string, endpoint: string): void {
    const eps = this.#placed.get(conference);
    if (eps?.delete(endpoint) && eps.size === 0) this.#placed.delete(conference);
    this.#send({ type: 'release', conference, endpoint });
  }

  /** The conference is over: the bridge drops whatever it still has of it. */
  expire(conference: string): void {
    this.#placed.delete(conference);
    this.#send({ type: 'expire', conference });
  }

  /** Any other order; endpoints are placed and taken away only by the methods above. */
  send(message: Exclude<FocusMessage, { type: 'allocate' | 'release' | 'expire' }>): void {
    this.#send(message);
  }

  #send(message: FocusMessage): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(message));
  }
}

export interface BridgeHubOptions {
  secret: string;
  videoMaxBitrate: number;
  screenMaxBitrate: number;
  /** The most m-lines a bridge gives one endpoint (`mlineLimit`). */
  maxMlines: number;
  /** `last_n`: the most cameras each receiver is forwarded (-1: all). */
  lastN?: number;
  registry: Registry;
  logger: Logger;
  /** How often the focus pings each bridge; one silent for 2.5 × this is taken as gone. */
  heartbeatMs?: number;
  /** A bridge stopped answering and was dropped (a local one is then restarted). */
  onUnresponsive?(name: string): void;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** A bridge frame may be this large: offers are at most `maxSdpLength` characters, and more. */
const maxFrameBytes = 1024 * 1024;

/**
 * The most m-lines an endpoint's session may hold so that the client's answer fits
 * `rtm_max_message_size`: Chromium's answer costs about 430 bytes an m-line as a JSON signaling
 * frame (measured); 600 leaves room for browsers whose answers are longer (not measured here).
 */
export function mlineLimit(rtmMaxMessageSize: number): number {
  return Math.max(16, Math.min(400, Math.floor((rtmMaxMessageSize - 4096) / 600)));
}

/** Messages about one endpoint: when one of them is bad, only that endpoint pays. */
const endpointMessages = new Set([
  'offer',
  'candidate',
  'endpoint_state',
  'speaker',
  'endpoint_full',
]);
const wireId = /^[\x21-\x7e]{1,128}$/;

/** The conference and endpoint an invalid frame names, when it names them plausibly. */
function endpointOf(raw: unknown): { conference: string; endpoint: string } | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const { type, conference, endpoint } = raw as Record<string, unknown>;
  if (typeof type !== 'string' || !endpointMessages.has(type)) return undefined;
  if (typeof conference !== 'string' || typeof endpoint !== 'string') return undefined;
  if (!wireId.test(conference) || !wireId.test(endpoint)) return undefined;
  return { conference, endpoint };
}

/**
 * The focus's end of the bridge control protocol (docs/bridge.md): authenticates bridges by
 * the shared secret on the WebSocket upgrade, validates every frame, keeps their load, and
 * picks the least loaded one for a new conference.
 */
export class BridgeHub {
  readonly #wss = new WebSocketServer({
    noServer: true,
    maxPayload: maxFrameBytes,
    perMessageDeflate: false,
  });
  readonly #links = new Set<BridgeLink>();
  readonly #log: Logger;
  readonly #secret: Buffer;
  readonly #counters: Record<keyof BridgeLink['totals'], Counter<'bridge'>>;
  #events: BridgeEvents | undefined;
  readonly #heartbeat: NodeJS.Timeout;
  #refusedLoggedAt = 0;
  #refusedUnlogged = 0;

  constructor(private readonly opts: BridgeHubOptions) {
    this.#log = opts.logger.child({ module: 'focus' });
    this.#secret = digest(opts.secret);
    const counter = (name: string, help: string) =>
      new Counter({ name, help, labelNames: ['bridge'], registers: [opts.registry] });
    this.#counters = {
      forwardedPackets: counter(
        'confab_bridge_forwarded_packets_total',
        'RTP packets a bridge forwarded to receivers',
      ),
      forwardedBytes: counter(
        'confab_bridge_forwarded_bytes_total',
        'Bytes of RTP a bridge forwarded to receivers',
      ),
      retransmittedPackets: counter(
        'confab_bridge_retransmitted_packets_total',
        'RTP packets a bridge sent again in answer to receivers’ NACKs',
      ),
    };
    const links = this.#links;
    new Gauge({
      name: 'confab_bridges',
      help: 'Bridges connected to the focus',
      registers: [opts.registry],
      collect() {
        this.set([...links].filter((l) => l.ready).length);
      },
    });
    const every = opts.heartbeatMs ?? 1000;
    this.#heartbeat = setInterval(() => this.#beat(every * 2.5), every);
    this.#heartbeat.unref();
  }

  /** Pings every bridge; one that has not answered within `limit` ms is dropped. */
  #beat(limit: number): void {
    const now = Date.now();
    for (const link of this.#links) {
      if (now - link.heardAt > limit) {
        this.#log.warn({ bridge: link.name, silentMs: now - link.heardAt }, 'bridge unresponsive');
        link.ws.terminate();
        if (link.ready) this.opts.onUnresponsive?.(link.name);
        continue;
      }
      if (link.ws.readyState === link.ws.OPEN) link.ws.ping();
    }
  }

  setEvents(events: BridgeEvents): void {
    this.#events = events;
  }

  get bridges(): BridgeLink[] {
    return [...this.#links].filter((l) => l.ready);
  }

  /** Endpoints placed on the bridges connected now. */
  get endpoints(): number {
    let n = 0;
    for (const l of this.#links) n += l.endpoints;
    return n;
  }

  /** The least loaded bridge that said hello, if any. */
  pick(): BridgeLink | undefined {
    let best: BridgeLink | undefined;
    for (const l of this.#links) if (l.ready && (!best || l.endpoints < best.endpoints)) best = l;
    return best;
  }

  /** Takes an upgrade for the control path; false for any other path. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const path = (req.url ?? '').split('?')[0];
    if (path !== bridgeControlPath) return false;
    const auth = req.headers.authorization ?? '';
    const given = auth.startsWith('Bearer ') ? digest(auth.slice(7)) : Buffer.alloc(32);
    if (!timingSafeEqual(given, this.#secret)) {
      // Unauthenticated, so logged at most once a second (with how many were not).
      const now = Date.now();
      if (now - this.#refusedLoggedAt >= 1000) {
        this.#log.warn(
          { ip: req.socket.remoteAddress, alsoRefused: this.#refusedUnlogged },
          'a bridge presented a wrong secret',
        );
        this.#refusedLoggedAt = now;
        this.#refusedUnlogged = 0;
      } else this.#refusedUnlogged++;
      refuseUpgrade(socket, '401 Unauthorized');
      return true;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws));
    return true;
  }

  close(): void {
    clearInterval(this.#heartbeat);
    for (const l of this.#links) l.ws.close(1001, 'focus shutting down');
  }

  #accept(ws: WebSocket): void {
    const link = new BridgeLink(ws);
    this.#links.add(link);
    ws.on('pong', () => {
      link.heardAt = Date.now();
    });
    ws.on('message', (data, isBinary) => {
      link.heardAt = Date.now();
      this.#receive(link, data as Buffer, isBinary);
    });
    ws.on('error', (err) => this.#log.debug({ err, bridge: link.name }, 'bridge link error'));
    ws.on('close', () => {
      this.#links.delete(link);
      if (!link.ready) return;
      this.#log.warn({ bridge: link.name }, 'bridge gone');
      link.ready = false;
      this.#events?.bridgeGone(link);
    });
  }

  #receive(link: BridgeLink, data: Buffer, isBinary: boolean): void {
    let raw: unknown;
    let m: BridgeMessage;
    try {
      if (isBinary) throw new Error('frames must be JSON text');
      raw = JSON.parse(data.toString('utf8'));
      const parsed = bridgeMessageSchema.safeParse(raw);
      if (!parsed.success) throw new Error(parsed.error.issues[0]?.message ?? 'invalid message');
      m = parsed.data;
    } catch (err) {
      const why = (err as Error).message.slice(0, 200);
      const about = link.ready ? endpointOf(raw) : undefined;
      if (about) {
        // One endpoint's offer (say) broke a limit: it costs that endpoint, not every
        // conference on the bridge.
        this.#log.warn(
          { bridge: link.name, ...about, err: why },
          'bad message from a bridge about one endpoint',
        );
        this.#events?.bridgeEndpointBroken(link, about.conference, about.endpoint, why);
        return;
      }
      this.#log.warn({ bridge: link.name, err: why }, 'bad message from a bridge');
      link.ws.close(1008, `bad_message: ${why}`.slice(0, 120));
      return;
    }
    if (!link.ready && m.type !== 'hello') {
      link.ws.close(1008, 'bad_message: hello first');
      return;
    }
    switch (m.type) {
      case 'hello':
        link.name = m.name;
        link.ice = m.ice;
        link.ready = true;
        link.send({
          type: 'welcome',
          videoMaxBitrate: this.opts.videoMaxBitrate,
          screenMaxBitrate: this.opts.screenMaxBitrate,
          maxMlines: this.opts.maxMlines,
          lastN: this.opts.lastN,
        });
        this.#log.info({ bridge: m.name, ice: m.ice }, 'bridge joined');
        this.#events?.bridgeJoined(link);
        return;
      case 'load': {
        // Bridges report running totals; a restarted bridge starts again from zero.
        for (const key of Object.keys(link.totals) as (keyof BridgeLink['totals'])[]) {
          const before = link.totals[key];
          this.#counters[key].inc(
            { bridge: link.name },
            m[key] >= before ? m[key] - before : m[key],
          );
          link.totals[key] = m[key];
        }
        return;
      }
      case 'offer':
      case 'speaker':
      case 'candidate':
      case 'endpoint_state':
      case 'endpoint_full':
        return this.#events?.bridgeEndpoint(link, m);
      case 'error':
        this.#log.warn(
          { bridge: link.name, code: m.code, msg: m.message, endpoint: m.endpoint },
          'bridge reported an error',
        );
        return;
    }
  }
}
