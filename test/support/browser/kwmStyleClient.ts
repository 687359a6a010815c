/**
 * A signaling client that behaves on the wire as Kopano's kwmjs 1.3.1 does (github
 * Kopano-dev/kwmjs, tag v1.3.1), wired as Kopano Meet wires it (Kopano-dev/meet
 * src/actions/kwm.js), written for Confab's interop tests: none of kwmjs's code is in here, only
 * its behaviour, each part citing the kwmjs file it comes from. It runs in the browser (test/interop
 * injects it into a page), so that its peer connections carry real media.
 *
 * Self-contained on purpose (no imports): the test strips its types with TypeScript and hands
 * the page the result, which defines `window.KwmStyle`.
 */

/** kwmjs src/webrtc.ts: the `v` of webrtc payloads; frames with an older one are ignored. */
const webrtcVersion = 20180703;
/** kwmjs src/kwm.ts defaults (Meet keeps them: `KWMInit.init({})`). */
const heartbeatInterval = 5000;
const pongTimeout = 4500;
const replyTimeout = 5000;
const reconnectInterval = 1000;
const reconnectFactor = 1.5;
const maxReconnectInterval = 30_000;
const reconnectSpreader = 500;

type Frame = Record<string, unknown> & { type: string };
interface WebrtcFrame extends Frame {
  subtype?: string;
  source?: string;
  target?: string;
  channel?: string;
  group?: string;
  hash?: string;
  state?: string;
  pcid?: string;
  initiator?: boolean;
  reply_to?: number;
  v?: number;
  data?: Record<string, unknown> & {
    accept?: boolean;
    state?: string;
    reason?: string;
    type?: RTCSdpType;
    sdp?: string;
    candidate?: RTCIceCandidateInit;
    renegotiate?: boolean;
    noop?: boolean;
    group?: { group: string; members: string[]; reset: boolean };
    pipeline?: { pipeline: string; mode: string };
    replaced?: boolean;
  };
}

/** A peer record (kwmjs src/webrtc.ts PeerRecord): what is known of one other party. */
interface PeerRecord {
  user: string;
  /** The state this side sends with; kwmjs draws it at random (12 hex). */
  state: string;
  /** The state the other side's frames must carry (checked when set). */
  ref: string;
  hash: string;
  initiator: boolean;
  group: string;
  /** Set for the pipeline record ('mcu-forward'): no mesh call, no pc of its own accord. */
  cid: string;
  pc: RTCPeerConnection | undefined;
  /** This side's pcid (7 hex), sent with its signals; the other side's, once bound. */
  pcid: string;
  rpcid: string | undefined;
  pendingCandidates: RTCIceCandidateInit[];
  /** webrtc.ts recover(): the pc was dropped; frames for the old one are ignored meanwhile. */
  recovering: boolean;
  /** simple-peer: an answerer with tracks of its own asks for a renegotiation once stable. */
  askedAfterStable: boolean;
  /** The call's transaction, echoed in the answer (webrtc.ts doAnswer). */
  transaction: string;
}

export interface KwmStyleOptions {
  accessToken: string;
  idToken: string;
  localStream?: MediaStream;
  rtcConfig?: RTCConfiguration;
  /** Answer incoming calls at once (a person pressing Accept). */
  autoAccept?: boolean;
}

const hex = (n: number) =>
  Array.from(crypto.getRandomValues(new Uint8Array(Math.ceil(n / 2))), (b) =>
    b.toString(16).padStart(2, '0'),
  )
    .join('')
    .slice(0, n);

/**
 * kwmjs src/webrtc.ts computeInitiator: this side makes the offer unless its id sorts lower
 * than the other's.
 */
export function computeInitiator(self: string, peer: string): boolean {
  return !(self < peer);
}

/** A fresh record: a random state and pcid of this side's, nothing known of the other yet. */
function newRecord(user: string, fields: Partial<PeerRecord> = {}): PeerRecord {
  return {
    user,
    state: hex(12),
    ref: '',
    hash: '',
    initiator: false,
    group: '',
    cid: '',
    pc: undefined,
    pcid: hex(7),
    rpcid: undefined,
    pendingCandidates: [],
    recovering: false,
    askedAfterStable: false,
    transaction: '',
    ...fields,
  };
}

export class KwmStyleClient {
  /** Every frame sent, and every error frame received (with or without reply_to). */
  readonly sent: Frame[] = [];
  readonly errors: Frame[] = [];
  readonly log: string[] = [];
  self: { id: string; name: string } | undefined;
  channel = '';
  #ws: WebSocket | undefined;
  #id = 0;
  #pending = new Map<number, { resolve: (f: Frame) => void; timer: number }>();
  #peers = new Map<string, PeerRecord>();
  #groupRecord: PeerRecord | undefined;
  #heartbeat: number | undefined;
  #attempts = 0;
  #stopped = false;
  connects = 0;
  /** Remote descriptions applied, over all peer connections. */
  negotiations = 0;
  /** The group the last member list named, sorted (kwmjs src/group.ts). */
  members: string[] = [];

  constructor(private readonly opts: KwmStyleOptions) {}

  // ---- connection: kwmjs src/kwm.ts connect, reconnect, heartbeat --------------------------

  /** rtm/connect with the ID token (Meet's `id_token` mode), then the socket, until hello. */
  async connect(): Promise<void> {
    this.#stopped = false;
    const res = await fetch('/api/kwm/v2/rtm/connect', {
      method: 'POST',
      mode: 'cors',
      headers: {
        authorization: `Bearer ${this.opts.accessToken}`,
        'content-type': 'application/x-www-form-urlencoded; charset=UTF-8',
      },
      body: `id_token=${encodeURIComponent(this.opts.idToken)}`,
    });
    // kwm.ts: a 403 ends reconnecting for good.
    if (res.status === 403) {
      this.#stopped = true;
      throw new Error('http_error_403');
    }
    if (!res.ok) throw new Error(`http_error_${res.status}`);
    const body = (await res.json()) as { ok: boolean; url: string };
    if (!body.ok || !body.url) throw new Error('connect without url');
    const url = new URL(body.url, location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    await new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(url);
      this.#ws = ws;
      const timer = setTimeout(() => reject(new Error('connect timeout')), 5000);
      ws.onopen = () => {
        this.#attempts = 0;
      };
      ws.onmessage = (e) => {
        const frame = JSON.parse(String(e.data)) as Frame;
        if (frame.type === 'hello') {
          clearTimeout(timer);
          this.#onHello(frame);
          resolve();
        } else this.#receive(frame);
      };
      // kwm.ts: the close code is never read; any close of the current socket reconnects.
      ws.onclose = () => {
        if (this.#ws !== ws) return;
        this.#ws = undefined;
        clearInterval(this.#heartbeat);
        this.#scheduleReconnect();
      };
    });
  }

  /** Closes the socket as a lost network would; the client reconnects by itself. */
  dropSocket(): void {
    this.#ws?.close();
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#heartbeat);
    const ws = this.#ws;
    this.#ws = undefined;
    ws?.close();
  }

  /** kwm.ts: 1000 × trunc(1.5^attempts), at most 30 s, plus up to 0.5 s. */
  #scheduleReconnect(): void {
    if (this.#stopped) return;
    const delay =
      Math.min(
        maxReconnectInterval,
        reconnectInterval * Math.trunc(reconnectFactor ** this.#attempts),
      ) + Math.floor(Math.random() * reconnectSpreader);
    this.#attempts++;
    setTimeout(() => {
      this.connect().catch((err: Error) => {
        this.log.push(`reconnect failed: ${err.message}`);
        if (!this.#stopped) this.#scheduleReconnect();
      });
    }, delay);
  }

  /**
   * kwm.ts / webrtc.ts handleHello: the first frame, with self; the heartbeat starts. Back in a
   * group after a reconnect, the group is joined again (webrtc.ts refreshGroup), and Meet then
   * renegotiates every peer connection (meet src/actions/kwm.js, on `connected`).
   */
  #onHello(frame: Frame): void {
    const self = frame.self as { id?: string; name: string } | undefined;
    if (!self?.id) throw new Error('hello without self');
    this.self = { id: self.id, name: self.name };
    this.connects++;
    clearInterval(this.#heartbeat);
    this.#heartbeat = setInterval(() => this.#ping(), heartbeatInterval) as unknown as number;
    if (this.connects > 1) {
      if (this.#groupRecord && this.members.includes(self.id)) void this.#refreshGroup();
      for (const record of this.#peers.values()) if (record.pc) this.#needsNegotiation(record);
    }
  }

  /** kwm.ts heartbeat: a ping every 5 s; no pong with the same id within 4.5 s closes the socket. */
  #ping(): void {
    const ws = this.#ws;
    if (!ws) return;
    this.#send({ type: 'ping', ts: Date.now() }, pongTimeout).then(
      (reply) => {
        if (reply.type !== 'pong') this.log.push('ping answered by something else');
      },
      () => {
        this.log.push('heartbeat timeout');
        ws.close();
      },
    );
  }

  /**
   * kwm.ts sendPayload: ids count up from 1 for every kind; a frame waited for resolves by its
   * reply_to (a pong by its id).
   */
  #send(payload: Frame, waitMs = 0): Promise<Frame> {
    const id = ++this.#id;
    const frame = { ...payload, id };
    this.sent.push(frame);
    this.#ws?.send(JSON.stringify(frame));
    if (!waitMs) return Promise.resolve(frame);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error('timeout'));
      }, waitMs) as unknown as number;
      this.#pending.set(id, { resolve, timer });
    });
  }

  /** kwm.ts onmessage: replies go to what waits for them; the rest by type. */
  #receive(frame: Frame): void {
    if (frame.type === 'pong') frame.reply_to = frame.id;
    if (frame.type === 'error') this.errors.push(frame);
    const replyTo = frame.reply_to as number | undefined;
    if (replyTo) {
      const waiting = this.#pending.get(replyTo);
      if (!waiting) {
        this.log.push('received kwm reply without handler');
        return;
      }
      this.#pending.delete(replyTo);
      clearTimeout(waiting.timer);
      waiting.resolve(frame);
      return;
    }
    if (frame.type === 'webrtc') this.#onWebrtc(frame as WebrtcFrame);
    else if (frame.type === 'goodbye') this.#ws?.close();
    else if (frame.type !== 'error') this.log.push(`unknown kwm message type ${frame.type}`);
  }

  // ---- webrtc: kwmjs src/webrtc.ts ----------------------------------------------------------

  /** webrtc.ts sendWebrtc: the envelope every webrtc frame this side sends has. */
  #sendWebrtc(
    subtype: string,
    record: Pick<PeerRecord, 'user' | 'state' | 'hash' | 'initiator' | 'group'>,
    fields: Record<string, unknown>,
    waitMs = 0,
  ): Promise<Frame> {
    return this.#send(
      {
        type: 'webrtc',
        subtype,
        channel: this.channel,
        group: record.group || '',
        hash: record.hash || '',
        initiator: !!record.initiator,
        state: record.state,
        target: record.user,
        transaction: '',
        v: webrtcVersion,
        ...fields,
      },
      waitMs,
    );
  }

  #record(user: string, fields: Partial<PeerRecord> = {}): PeerRecord {
    const record = newRecord(user, fields);
    this.#peers.set(user, record);
    return record;
  }

  /** webrtc.ts doCall: a new call; the reply names the channel and its hash. */
  async call(user: string): Promise<void> {
    const record = this.#record(user, { initiator: true });
    const reply = (await this.#sendWebrtc(
      'webrtc_call',
      { ...record, hash: '' },
      { channel: '' },
      replyTimeout,
    )) as WebrtcFrame;
    if (reply.type === 'error') throw new Error(`call refused: ${JSON.stringify(reply.error)}`);
    record.hash = reply.hash ?? '';
    this.channel = reply.channel ?? '';
  }

  /** webrtc.ts doHangup: to one peer, or, without one, everything (a group leave included). */
  async hangup(): Promise<void> {
    const channel = this.channel;
    const group = this.#groupRecord;
    const records = [...this.#peers.values()];
    const reason = { accept: false, reason: 'hangup' };
    if (group)
      await this.#sendWebrtc('webrtc_hangup', group, {
        channel,
        data: { ...reason, state: group.ref },
      });
    // Then every peer record, in the order they came (the pipeline first after a join).
    for (const record of records)
      await this.#sendWebrtc('webrtc_hangup', record, {
        channel,
        data: { ...reason, state: record.ref },
      });
    for (const record of records) this.#closePc(record);
    this.#peers.clear();
    this.#groupRecord = undefined;
    this.members = [];
    this.channel = '';
  }

  /** webrtc.ts doGroup: joins; the reply's hash and channel data follow. */
  async joinGroup(group: string): Promise<void> {
    // The group's own record is not a peer (webrtc.ts doGroup keeps it as `group`).
    const record = newRecord(group, { group });
    this.#groupRecord = record;
    const reply = (await this.#sendWebrtc(
      'webrtc_group',
      { ...record, hash: '' },
      { channel: '' },
      replyTimeout,
    )) as WebrtcFrame;
    if (reply.type === 'error') throw new Error(`group refused: ${JSON.stringify(reply.error)}`);
    record.hash = reply.hash ?? '';
    this.channel = reply.channel ?? '';
    await this.#channelData(reply);
  }

  /** webrtc.ts refreshGroup: after a reconnect, the group is joined again with its old hash. */
  async #refreshGroup(): Promise<void> {
    const record = this.#groupRecord;
    if (!record) return;
    record.state = hex(12);
    const reply = (await this.#sendWebrtc(
      'webrtc_group',
      record,
      { channel: '' },
      replyTimeout,
    ).catch(() => undefined)) as WebrtcFrame | undefined;
    if (!reply || reply.type === 'error' || reply.channel !== this.channel) return;
    record.hash = reply.hash ?? '';
    await this.#channelData(reply);
  }

  #onWebrtc(m: WebrtcFrame): void {
    if ((m.v ?? 0) < webrtcVersion) {
      this.log.push('webrtc ignoring message with outdated version');
      return;
    }
    switch (m.subtype) {
      case 'webrtc_call':
        return m.initiator ? this.#onCall(m) : this.#onAnswer(m);
      case 'webrtc_channel':
        if (m.channel !== this.channel) return;
        void this.#channelData(m);
        return;
      case 'webrtc_signal':
        void this.#onSignal(m);
        return;
      case 'webrtc_hangup':
        return this.#onHangup(m);
    }
  }

  /** webrtc.ts handleWebRTCMessage, incoming call (initiator): ring, and here accept at once. */
  #onCall(m: WebrtcFrame): void {
    const source = m.source ?? '';
    if (!source) return;
    if (this.#peers.has(source) && !m.target) {
      // A call taken on another device: the ringing ends here, nothing on the wire.
      this.#closePc(this.#peers.get(source) as PeerRecord);
      this.#peers.delete(source);
      return;
    }
    const record = this.#record(source, {
      ref: m.state ?? '',
      hash: m.hash ?? '',
      transaction: typeof m.transaction === 'string' ? m.transaction : '',
    });
    if (this.channel) {
      void this.#sendWebrtc('webrtc_call', record, {
        channel: m.channel,
        data: { accept: false, reason: 'reject_busy', state: record.ref },
      });
      return;
    }
    this.channel = m.channel ?? '';
    if (this.opts.autoAccept)
      // webrtc.ts doAnswer: the callee's pc comes with the first signal (onSignal).
      void this.#sendWebrtc('webrtc_call', record, {
        data: { accept: true, state: record.ref },
        transaction: record.transaction,
      });
  }

  /** webrtc.ts: the other side's answer to our call (or a group member's reciprocal call). */
  #onAnswer(m: WebrtcFrame): void {
    const record = this.#peers.get(m.source ?? '');
    if (!record) {
      this.log.push('webrtc unknown peer');
      return;
    }
    if (record.state !== m.data?.state) {
      this.log.push('webbrtc peer data with wrong state');
      return;
    }
    if (record.hash !== m.hash) {
      const g = this.#groupRecord?.group;
      if (!g || record.group !== g || m.group !== g || !m.data?.accept) {
        this.log.push('webrtc peer data with wrong hash');
        return;
      }
      record.hash = m.hash ?? '';
    }
    if (!m.data?.accept) {
      this.log.push(`call ended: ${m.data?.reason}`);
      this.#closePc(record);
      this.#peers.delete(record.user);
      return;
    }
    record.ref = m.state ?? '';
    record.initiator = computeInitiator(this.self?.id ?? '', record.user);
    this.#newPc(record);
    // webrtc.ts: after an accepted call, the answerer says so, so that the other side offers.
    if (!record.initiator) this.#signalOut(record, { renegotiate: true, noop: true });
  }

  /**
   * webrtc.ts handleWebRTCExtraChannelData: the member list (src/group.ts updateMembers, a reset
   * first dropping every mesh peer), the pipeline (`mcu-forward`: one record whose expected
   * state is the pipeline's id, which alone gets this side's media), `replaced`.
   */
  async #channelData(m: WebrtcFrame): Promise<void> {
    const data = m.data;
    if (!data) return;
    if (data.replaced) {
      for (const r of this.#peers.values()) this.#closePc(r);
      this.#peers.clear();
      this.#groupRecord = undefined;
      this.channel = '';
      return;
    }
    const g = this.#groupRecord;
    if (data.pipeline && g) {
      if (data.pipeline.mode !== 'mcu-forward') {
        this.log.push('webrtc channel with unknown pipeline mode');
      } else {
        const id = data.pipeline.pipeline;
        const existing = this.#peers.get(id);
        if (!existing || existing.hash !== g.hash) {
          if (existing) this.#closePc(existing);
          this.#record(id, { group: g.group, ref: id, hash: g.hash, cid: 'mcu-forward' });
        }
      }
    }
    if (data.group && g) {
      if (data.group.group !== g.group) {
        this.log.push('invalid webrtc group');
        return;
      }
      const members = [...data.group.members].sort();
      if (data.group.reset)
        for (const r of [...this.#peers.values()])
          if (!r.cid) {
            this.#closePc(r);
            this.#peers.delete(r.user);
          }
      this.members = members;
      this.#mesh(members);
    }
  }

  /**
   * webrtc.ts doMesh: every other member without a live connection gets a record (state and
   * expected state: the group) and a "reciprocal" webrtc_call (doAnswer); members gone are
   * dropped here only. kwmjs does so with a pipeline too.
   */
  #mesh(members: string[]): void {
    const g = this.#groupRecord;
    const self = this.self?.id;
    if (!g || !self || !this.channel) return;
    for (const r of [...this.#peers.values()])
      if (!r.cid && !members.includes(r.user)) {
        this.#closePc(r);
        this.#peers.delete(r.user);
      }
    for (const m of members) {
      if (m === self) continue;
      const existing = this.#peers.get(m);
      if (existing && (existing.cid || (existing.pc && existing.pc.connectionState !== 'closed')))
        continue;
      const record = this.#record(m, {
        group: g.group,
        hash: g.hash,
        ref: g.group,
        state: g.group,
      });
      void this.#sendWebrtc('webrtc_call', record, {
        data: { accept: true, state: g.group },
        initiator: false,
      });
    }
  }

  /**
   * webrtc.ts handleWebRTCSignalMessage: the checks, in kwmjs's order, then the pc (made here
   * if there is none yet, with the role computeInitiator gives), then the signal.
   */
  async #onSignal(m: WebrtcFrame): Promise<void> {
    if (!m.channel || m.channel !== this.channel) {
      this.log.push('webrtc signal with wrong channel');
      return;
    }
    const data = m.data;
    if (!data) {
      this.log.push('webrtc signal data empty');
      return;
    }
    const record = this.#peers.get(m.source ?? '');
    if (!record) {
      this.log.push('webrtc signal for unknown peer');
      return;
    }
    if (record.ref && m.state !== record.ref) {
      this.log.push(`webrtc signal with wrong state ${m.source} ${m.state}`);
      return;
    }
    if (m.pcid !== record.rpcid) {
      record.recovering = false;
      if (record.rpcid === undefined && record.pc) record.rpcid = m.pcid;
      else if (record.pc) {
        this.log.push('webrtc signal with new pcid');
        this.#closePc(record);
      }
    } else if (record.recovering) {
      this.log.push('webrtc signal in recover ignored');
      return;
    }
    if (!record.pc) {
      record.initiator = computeInitiator(this.self?.id ?? '', record.user);
      record.rpcid = m.pcid;
      this.#newPc(record);
      if (record.initiator && data.renegotiate) return;
    }
    if (data.noop) return;
    await this.#signal(record, data);
  }

  /** webrtc.ts handleWebRTCHangupMessage: channel, data, a known peer, its state. */
  #onHangup(m: WebrtcFrame): void {
    if (!m.channel || m.channel !== this.channel || !m.data) return;
    const record = this.#peers.get(m.source ?? '');
    if (!record || (record.ref && m.state !== record.ref)) return;
    this.#closePc(record);
    this.#peers.delete(record.user);
    if (![...this.#peers.values()].some((r) => !r.cid) && !this.#groupRecord) this.channel = '';
  }

  // ---- the peer connection: what simple-peer 9.7 (kwmjs's) does on the wire ----------------

  /**
   * A new pc for a record. Only the pipeline gets this side's media in a group (webrtc.ts
   * localStreamTarget); one-to-one calls get it too. The initiator offers at once; the other
   * says `{renegotiate: true, noop: true}` (webrtc.ts, for a new non-initiator pc).
   */
  #newPc(record: PeerRecord): void {
    const pc = new RTCPeerConnection(this.opts.rtcConfig ?? {});
    record.pcid = hex(7);
    record.pendingCandidates = [];
    const stream = this.opts.localStream;
    const carriesMedia = record.cid !== '' || !this.#groupRecord;
    if (stream && carriesMedia) for (const t of stream.getTracks()) pc.addTrack(t, stream);
    pc.onicecandidate = (e) => {
      if (e.candidate)
        this.#signalOut(record, {
          candidate: {
            candidate: e.candidate.candidate,
            sdpMLineIndex: e.candidate.sdpMLineIndex,
            sdpMid: e.candidate.sdpMid,
          },
        });
    };
    pc.onsignalingstatechange = () => {
      if (pc.signalingState !== 'stable' || record.initiator || record.askedAfterStable) return;
      // simple-peer: an answerer whose own tracks were added before the first negotiation asks
      // for another once stable.
      record.askedAfterStable = true;
      if (stream && carriesMedia) this.#signalOut(record, { renegotiate: true });
    };
    record.askedAfterStable = false;
    record.pc = pc;
    if (record.initiator) void this.#offer(record);
  }

  /**
   * webrtc.ts recover(): the pc is dropped and, after 500 ms, a new one made, with a new pcid; an
   * answerer then says `{renegotiate, noop}` and waits for an offer.
   */
  async recover(user: string): Promise<void> {
    const record = this.#peers.get(user);
    if (!record) throw new Error(`no peer ${user}`);
    record.pc?.close();
    record.pc = undefined;
    record.recovering = true;
    await new Promise((r) => setTimeout(r, 500));
    this.#newPc(record);
    if (!record.initiator) this.#signalOut(record, { renegotiate: true, noop: true });
  }

  #needsNegotiation(record: PeerRecord): void {
    if (record.initiator) void this.#offer(record);
    else this.#signalOut(record, { renegotiate: true });
  }

  async #offer(record: PeerRecord): Promise<void> {
    const pc = record.pc;
    if (!pc) return;
    await pc.setLocalDescription(await pc.createOffer());
    this.#signalOut(record, { type: 'offer', sdp: pc.localDescription?.sdp });
  }

  /** simple-peer signal(): an offer is answered, an answer set, candidates added or queued. */
  async #signal(record: PeerRecord, data: NonNullable<WebrtcFrame['data']>): Promise<void> {
    const pc = record.pc;
    if (!pc) return;
    if (data.renegotiate) {
      if (record.initiator) await this.#offer(record);
      return;
    }
    if (data.sdp && data.type) {
      await pc.setRemoteDescription({ type: data.type, sdp: data.sdp });
      this.negotiations++;
      for (const c of record.pendingCandidates.splice(0))
        await pc.addIceCandidate(c).catch(() => {});
      if (data.type === 'offer') {
        await pc.setLocalDescription(await pc.createAnswer());
        this.#signalOut(record, { type: 'answer', sdp: pc.localDescription?.sdp });
      }
      return;
    }
    if (data.candidate) {
      if (!pc.remoteDescription) record.pendingCandidates.push(data.candidate);
      else await pc.addIceCandidate(data.candidate).catch(() => {});
      return;
    }
    // simple-peer destroys its pc on anything else (ERR_SIGNALING).
    this.log.push(`unknown signal ${JSON.stringify(data).slice(0, 80)}`);
  }

  /** webrtc.ts, the pc's `signal` event: a webrtc_signal with this side's pcid and state. */
  #signalOut(record: PeerRecord, data: Record<string, unknown>): void {
    void this.#sendWebrtc('webrtc_signal', record, { data, pcid: record.pcid });
  }

  #closePc(record: PeerRecord): void {
    record.pc?.close();
    record.pc = undefined;
    record.rpcid = undefined;
  }

  /** The open peer connections, for the test's stats. */
  peerConnections(): RTCPeerConnection[] {
    return [...this.#peers.values()].flatMap((r) => (r.pc ? [r.pc] : []));
  }
}

(globalThis as unknown as { KwmStyle: unknown }).KwmStyle = { KwmStyleClient, computeInitiator };
