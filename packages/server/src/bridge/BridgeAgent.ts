import {
  type BridgeMessage,
  bridgeControlPath,
  bridgeProtocolVersion,
  type FocusMessage,
  focusMessageSchema,
} from '@confab/protocol';
import WebSocket from 'ws';
import type { Logger } from '../logging/index.js';
import { MediaBridge } from './MediaBridge.js';

export interface BridgeAgentOptions {
  /** The focus's origin as a WebSocket URL (`ws://host:port`). */
  focusUrl: string;
  secret: string;
  name: string;
  iceAddress: string;
  port: number;
  publicAddress?: string | undefined;
  logger: Logger;
  /** How long the focus may take to answer the upgrade before the bridge tries again. */
  handshakeTimeoutMs?: number;
}

const loadInterval = 2000;
const handshakeTimeout = 10_000;

/**
 * A bridge process's link to the focus: connects to the control WebSocket, announces itself,
 * reports its load, and turns the focus's orders into work for the media bridge. When the link
 * drops, the bridge ends every conference (the focus moves them) and reconnects with backoff.
 */
export class BridgeAgent {
  readonly media: MediaBridge;
  readonly #log: Logger;
  #ws: WebSocket | undefined;
  #retry = 1000;
  #timer: NodeJS.Timeout | undefined;
  #loadTimer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(private readonly opts: BridgeAgentOptions) {
    this.#log = opts.logger.child({ module: 'bridge-agent', bridge: opts.name });
    this.media = new MediaBridge({
      iceAddress: opts.iceAddress,
      port: opts.port,
      publicAddress: opts.publicAddress,
      logger: opts.logger,
      // Offers, candidates, states and speakers go to the focus as the bridge made them.
      onMessage: (message) => this.#send(message),
    });
  }

  start(): void {
    this.#connect();
  }

  close(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearInterval(this.#loadTimer);
    this.#ws?.close(1001, 'bridge shutting down');
    this.media.close();
  }

  #connect(): void {
    const url = new URL(bridgeControlPath, this.opts.focusUrl).toString();
    const ws = new WebSocket(url, {
      headers: { authorization: `Bearer ${this.opts.secret}` },
      maxPayload: 1024 * 1024,
      perMessageDeflate: false,
      // A focus (or a proxy before it) that takes the connection and never answers would
      // otherwise hold the bridge in CONNECTING for good: no close, so no reconnect.
      handshakeTimeout: this.opts.handshakeTimeoutMs ?? handshakeTimeout,
    });
    this.#ws = ws;
    ws.on('open', () => {
      this.#retry = 1000;
      this.#log.info({ focus: this.opts.focusUrl }, 'connected to the focus');
      this.#send({
        type: 'hello',
        version: bridgeProtocolVersion,
        name: this.opts.name,
        ice: { address: this.opts.publicAddress ?? this.opts.iceAddress, port: this.opts.port },
      });
      this.#loadTimer = setInterval(
        () => this.#send({ type: 'load', ...this.media.load() }),
        loadInterval,
      );
      this.#loadTimer.unref();
    });
    ws.on('message', (data, isBinary) => this.#receive(data as Buffer, isBinary));
    ws.on('unexpected-response', (_req, res) => {
      this.#log.error(
        { status: res.statusCode },
        'the focus refused this bridge (check bridge.shared_secret)',
      );
      // With a listener here ws leaves aborting the handshake to us; without that the socket
      // never closes and the bridge never tries again (a proxy's 502 while the focus restarts).
      ws.terminate();
    });
    ws.on('error', (err) => {
      this.#log.debug({ err }, 'focus link error');
      // A frame that breaks the protocol (masked, unknown opcode, over the size limit) makes ws
      // start a close handshake and wait 30 s for the focus's answer; the link is no use by
      // then, so it is dropped at once and the bridge reconnects.
      ws.terminate();
    });
    ws.on('close', () => {
      clearInterval(this.#loadTimer);
      if (this.#ws !== ws) return;
      this.#ws = undefined;
      // The focus forgot this bridge's conferences; so does the bridge.
      for (const c of this.media.conferenceIds()) this.media.expire(c);
      if (this.#stopped) return;
      this.#log.warn({ retryMs: this.#retry }, 'lost the focus; reconnecting');
      this.#timer = setTimeout(() => this.#connect(), this.#retry);
      this.#retry = Math.min(this.#retry * 1.5, 10_000);
    });
  }

  #send(message: BridgeMessage): void {
    const ws = this.#ws;
    if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  }

  #receive(data: Buffer, isBinary: boolean): void {
    let parsed: FocusMessage;
    try {
      if (isBinary) throw new Error('binary frame');
      parsed = focusMessageSchema.parse(JSON.parse(data.toString('utf8')));
    } catch (err) {
      this.#send({
        type: 'error',
        code: 'bad_message',
        message: String((err as Error).message).slice(0, 500),
      });
      return;
    }
    try {
      this.#handle(parsed);
    } catch (err) {
      this.#log.error({ err, type: parsed.type }, 'bridge could not carry out an order');
    }
  }

  #handle(m: FocusMessage): void {
    const unknown = (conference: string, endpoint: string) =>
      this.#send({
        type: 'error',
        code: 'unknown_endpoint',
        message: 'no such endpoint',
        conference,
        endpoint,
      });
    switch (m.type) {
      case 'welcome':
        if (m.maxMlines) this.media.setMaxMlines(m.maxMlines);
        if (m.lastN !== undefined) this.media.setLastN(m.lastN);
        return this.media.setBitrates(m.videoMaxBitrate, m.screenMaxBitrate);
      case 'allocate':
        return this.media.allocate(m.conference, m.endpoint, m.user, m.held === true);
      case 'admit':
        if (!this.media.admit(m.conference, m.endpoint)) unknown(m.conference, m.endpoint);
        return;
      case 'answer':
        if (!this.media.answer(m.conference, m.endpoint, m.sdp)) unknown(m.conference, m.endpoint);
        return;
      case 'candidate':
        if (!this.media.candidate(m.conference, m.endpoint, m.candidate, m.mid))
          unknown(m.conference, m.endpoint);
        return;
      case 'renegotiate':
        if (!this.media.renegotiate(m.conference, m.endpoint)) unknown(m.conference, m.endpoint);
        return;
      case 'screenshare':
        if (!this.media.screenshare(m.conference, m.endpoint, m.active))
          unknown(m.conference, m.endpoint);
        return;
      case 'mute':
        if (!this.media.mute(m.conference, m.endpoint, m.muted)) unknown(m.conference, m.endpoint);
        return;
      case 'release':
        return this.media.release(m.conference, m.endpoint);
      case 'expire':
        return this.media.expire(m.conference);
    }
  }
}
