import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  type BridgeMessage,
  bridgeControlPath,
  bridgeMessageSchema,
  type FocusMessage,
  type ForwardedStream,
} from '@confab/protocol';
import { Counter, Gauge, type Registry } from 'prom-client';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Logger } from '../logging/index.js';

/** What the focus hears from its bridges. */
export interface BridgeEvents {
  bridgeOffer(
    bridge: BridgeLink,
    conference: string,
    endpoint: string,
    sdp: string,
    streams: Record<string, ForwardedStream>,
  ): void;
  bridgeEndpointState(
    bridge: BridgeLink,
    conference: string,
    endpoint: string,
    state: string,
  ): void;
  bridgeGone(bridge: BridgeLink): void;
}

/** A bridge connected to the focus over the control protocol. */
export class BridgeLink {
  name = '';
  ice: { address: string; port: number } | undefined;
  /** Endpoints the focus placed on it: the load that picks a bridge. */
  endpoints = 0;
  ready = false;
  totals = { packets: 0, bytes: 0 };

  constructor(readonly ws: WebSocket) {}

  send(message: FocusMessage): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(message));
  }
}

export interface BridgeHubOptions {
  secret: string;
  videoMaxBitrate: number;
  screenMaxBitrate: number;
  registry: Registry;
  logger: Logger;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * The focus's end of the bridge control protocol (docs/bridge.md): authenticates bridges by
 * the shared secret on the WebSocket upgrade, validates every frame, keeps their load, and
 * picks the least loaded one for a new conference.
 */
export class BridgeHub {
  readonly #wss = new WebSocketServer({
    noServer: true,
    maxPayload: 1024 * 1024,
    perMessageDeflate: false,
  });
  readonly #links = new Set<BridgeLink>();
  readonly #log: Logger;
  readonly #secret: Buffer;
  readonly #packets: Counter<'bridge'>;
  readonly #bytes: Counter<'bridge'>;
  #events: BridgeEvents | undefined;

  constructor(private readonly opts: BridgeHubOptions) {
    this.#log = opts.logger.child({ module: 'focus' });
    this.#secret = digest(opts.secret);
    this.#packets = new Counter({
      name: 'confab_bridge_forwarded_packets_total',
      help: 'RTP packets a bridge forwarded to receivers',
      labelNames: ['bridge'],
      registers: [opts.registry],
    });
    this.#bytes = new Counter({
      name: 'confab_bridge_forwarded_bytes_total',
      help: 'Bytes of RTP a bridge forwarded to receivers',
      labelNames: ['bridge'],
      registers: [opts.registry],
    });
    const links = this.#links;
    new Gauge({
      name: 'confab_bridges',
      help: 'Bridges connected to the focus',
      registers: [opts.registry],
      collect() {
        this.set([...links].filter((l) => l.ready).length);
      },
    });
  }

  setEvents(events: BridgeEvents): void {
    this.#events = events;
  }

  get bridges(): BridgeLink[] {
    return [...this.#links].filter((l) => l.ready);
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
      this.#log.warn({ ip: req.socket.remoteAddress }, 'a bridge presented a wrong secret');
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return true;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws));
    return true;
  }

  close(): void {
    for (const l of this.#links) l.ws.close(1001, 'focus shutting down');
  }

  #accept(ws: WebSocket): void {
    const link = new BridgeLink(ws);
    this.#links.add(link);
    ws.on('message', (data, isBinary) => this.#receive(link, data as Buffer, isBinary));
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
    let m: BridgeMessage;
    try {
      if (isBinary) throw new Error('frames must be JSON text');
      const parsed = bridgeMessageSchema.safeParse(JSON.parse(data.toString('utf8')));
      if (!parsed.success) throw new Error(parsed.error.issues[0]?.message ?? 'invalid message');
      m = parsed.data;
    } catch (err) {
      this.#log.warn(
        { bridge: link.name, err: (err as Error).message },
        'bad message from a bridge',
      );
      link.ws.close(1008, `bad_message: ${(err as Error).message}`.slice(0, 120));
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
        });
        this.#log.info({ bridge: m.name, ice: m.ice }, 'bridge joined');
        return;
      case 'load': {
        // Bridges report running totals; a restarted bridge starts again from zero.
        const dp =
          m.forwardedPackets >= link.totals.packets
            ? m.forwardedPackets - link.totals.packets
            : m.forwardedPackets;
        const db =
          m.forwardedBytes >= link.totals.bytes
            ? m.forwardedBytes - link.totals.bytes
            : m.forwardedBytes;
        link.totals = { packets: m.forwardedPackets, bytes: m.forwardedBytes };
        this.#packets.inc({ bridge: link.name }, dp);
        this.#bytes.inc({ bridge: link.name }, db);
        return;
      }
      case 'offer':
        return this.#events?.bridgeOffer(link, m.conference, m.endpoint, m.sdp, m.streams);
      case 'endpoint_state':
        return this.#events?.bridgeEndpointState(link, m.conference, m.endpoint, m.state);
      case 'error':
        this.#log.warn(
          { bridge: link.name, code: m.code, msg: m.message, endpoint: m.endpoint },
          'bridge reported an error',
        );
        return;
    }
  }
}
