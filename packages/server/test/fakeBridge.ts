import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  type BridgeMessage,
  bridgeControlPath,
  type FocusMessage,
  pipelinePeerId,
  type ServerMessage,
} from '@confab/protocol';
import WebSocket from 'ws';
import type { LooseWebrtcFrame, RtmClient } from '../../../test/support/rtmClient.js';

/** The conference and endpoint a bridge message is about. */
export const pick = (m: { conference: string; endpoint: string }) => ({
  conference: m.conference,
  endpoint: m.endpoint,
});

/**
 * A bridge as the focus sees one: the real control protocol over a WebSocket, with the media
 * side left out. The media itself is tested with browsers (test/e2e/group.e2e.test.ts).
 */
export class FakeBridge {
  readonly received: FocusMessage[] = [];
  #waiters: { match: (m: FocusMessage) => boolean; resolve: (m: FocusMessage) => void }[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as FocusMessage;
      const w = this.#waiters.find((x) => x.match(m));
      if (w) {
        this.#waiters = this.#waiters.filter((x) => x !== w);
        w.resolve(m);
      } else this.received.push(m);
    });
  }

  static async connect(base: string, secret: string, name = 'fake-1'): Promise<FakeBridge> {
    const ws = new WebSocket(new URL(bridgeControlPath, base.replace(/^http/, 'ws')), {
      headers: { authorization: `Bearer ${secret}` },
    });
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const bridge = new FakeBridge(ws);
    bridge.send({ type: 'hello', version: 1, name, ice: { address: '127.0.0.1', port: 10999 } });
    await bridge.next((m) => m.type === 'welcome');
    return bridge;
  }

  /** A fake bridge with the secret a server made in its data dir (`bridge-secret.key`). */
  static forServer(
    server: { localUrl: string; dataDir: string },
    name?: string,
  ): Promise<FakeBridge> {
    const secret = readFileSync(path.join(server.dataDir, 'bridge-secret.key'), 'utf8').trim();
    return FakeBridge.connect(server.localUrl, secret, name);
  }

  send(m: BridgeMessage | Record<string, unknown>): void {
    this.ws.send(JSON.stringify(m));
  }

  next<T extends FocusMessage['type']>(
    match: (m: FocusMessage) => boolean,
    timeoutMs = 5000,
  ): Promise<Extract<FocusMessage, { type: T }>> {
    const i = this.received.findIndex(match);
    if (i >= 0)
      return Promise.resolve(this.received.splice(i, 1)[0] as Extract<FocusMessage, { type: T }>);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`bridge got no such message; has ${JSON.stringify(this.received)}`)),
        timeoutMs,
      );
      this.#waiters.push({
        match,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m as Extract<FocusMessage, { type: T }>);
        },
      });
    });
  }

  close(): Promise<void> {
    if (this.ws.readyState === this.ws.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}

export const channelOf =
  (group: string) =>
  (m: ServerMessage): m is ServerMessage & LooseWebrtcFrame =>
    m.type === 'webrtc' && m.subtype === 'webrtc_channel' && m.group === group;
export const isError = (code: string) => (m: ServerMessage) =>
  m.type === 'error' && m.error.code === code;
export const participants = (m: LooseWebrtcFrame) =>
  (m.data as { group: { participants: { id: string; owner: boolean; name: string }[] } }).group
    .participants;

/** Joins and returns the channel's hash, for signals to the pipeline. */
export async function joined(client: RtmClient, group: string): Promise<string> {
  join(client, group);
  const channel = (await client.next(
    (m) => channelOf(group)(m) && m.hash !== undefined,
  )) as LooseWebrtcFrame;
  return channel.hash as string;
}

export function pipelineSignal(
  client: RtmClient,
  group: string,
  hash: string,
  data: unknown,
): number {
  return client.send({
    type: 'webrtc',
    subtype: 'webrtc_signal',
    target: pipelinePeerId,
    group,
    channel: `@${group}`,
    hash,
    data,
  });
}

/** `webrtc_group`; `data` as the client gives it (the web app's `{p2p: true}`, say). */
export function join(client: RtmClient, group: string, data?: unknown): number {
  return client.send({
    type: 'webrtc',
    subtype: 'webrtc_group',
    target: group,
    group,
    state: 's1',
    ...(data === undefined ? {} : { data }),
  });
}
