import {
  answeredMessage,
  callChannelMessage,
  callSignalMessage,
  hangupMessage,
  ringMessage,
  type ServerMessage,
  serverMessageSchema,
  type WebrtcClientDraft,
  type WebrtcClientMessage,
  webrtcMessageSchema,
} from '@confab/protocol';

/**
 * A stand-in for the signaling server and each user's RTM client, for the call controllers'
 * unit tests (only tests import it). It relays one-to-one calls as the server does, with the
 * protocol's own builders, a tick late as a network would; each message reaches a client
 * through JSON and `serverMessageSchema`, as `RtmClient` hands it on. A client can go down:
 * `send` then answers undefined (the controller keeps the message), and what is sent to it is
 * lost.
 */
export class FakeKwm {
  readonly #clients = new Map<string, FakeKwmClient>();
  readonly #calls = new Map<string, { caller: string; callee: string; state: string }>();
  #channels = 0;

  client(id: string, name: string): FakeKwmClient {
    const client = new FakeKwmClient(this, id, name);
    this.#clients.set(id, client);
    return client;
  }

  /** @internal A message from a client, handled as the server would. */
  route(from: FakeKwmClient, m: WebrtcClientMessage): void {
    const str = (k: 'target' | 'state' | 'hash') => m[k];
    const id = m.id;
    const channel = m.channel;
    const call = this.#calls.get(channel);
    const other = call && (call.caller === from.id ? call.callee : call.caller);
    switch (m.subtype) {
      case 'webrtc_call': {
        if (m.initiator) {
          const ch = `*call${++this.#channels}`;
          this.#calls.set(ch, { caller: from.id, callee: str('target'), state: str('state') });
          from.deliver(callChannelMessage({ reply_to: id, channel: ch, hash: `hash-${ch}` }));
          this.#clients.get(str('target'))?.deliver(
            ringMessage({
              source: from.id,
              target: str('target'),
              name: from.name,
              state: str('state'),
              channel: ch,
              hash: `hash-${ch}`,
            }),
          );
          return;
        }
        if (!call || !other) return;
        this.#clients.get(other)?.deliver(
          answeredMessage({
            source: from.id,
            target: other,
            name: from.name,
            state: str('state'),
            channel,
            hash: str('hash'),
            data: m.data as { accept: boolean },
          }),
        );
        return;
      }
      case 'webrtc_signal':
        if (!call || !other) return;
        this.#clients.get(other)?.deliver(
          callSignalMessage({
            source: from.id,
            target: other,
            channel,
            hash: str('hash'),
            state: str('state'),
            data: m.data,
          }),
        );
        return;
      case 'webrtc_hangup':
        if (!call || !other) return;
        this.#calls.delete(channel);
        this.#clients.get(other)?.deliver(
          hangupMessage({
            source: from.id,
            target: other,
            channel,
            hash: str('hash'),
            state: str('state'),
            reason: (m.data as { reason?: string } | undefined)?.reason ?? 'hangup',
            callState: call.state,
          }),
        );
    }
  }
}

export class FakeKwmClient {
  up = true;
  /** What the client sent while up, with the ids it got. */
  readonly sent: WebrtcClientMessage[] = [];
  /** What reached it, parsed. */
  readonly received: ServerMessage[] = [];
  /** Sent to it while it was down. */
  lost = 0;
  onMessage: (m: ServerMessage) => void = () => {};
  #nextId = 1;

  constructor(
    private readonly kwm: FakeKwm,
    readonly id: string,
    readonly name: string,
  ) {}

  /** The controller's `send`: an id when it went out, undefined while down. */
  send = (message: WebrtcClientDraft): number | undefined => {
    if (!this.up) return undefined;
    // Through JSON and the server's own strict schema: a field the server would refuse with
    // bad_message fails the test here.
    const wire = JSON.stringify({ ...message, id: this.#nextId++ });
    const parsed = webrtcMessageSchema.parse(JSON.parse(wire));
    this.sent.push(parsed);
    setTimeout(() => this.kwm.route(this, parsed), 0);
    return parsed.id;
  };

  /** @internal */
  deliver(message: ServerMessage): void {
    const wire = JSON.stringify(message);
    setTimeout(() => {
      if (!this.up) {
        this.lost++;
        return;
      }
      const parsed = serverMessageSchema.parse(JSON.parse(wire));
      this.received.push(parsed);
      this.onMessage(parsed);
    }, 0);
  }

  /** The signals (their data) this client sent, oldest first. */
  signals(): unknown[] {
    return this.sent.filter((m) => m.subtype === 'webrtc_signal').map((m) => m.data);
  }
}
