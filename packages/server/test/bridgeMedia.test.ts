import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { createSocket, type RemoteInfo } from 'node:dgram';
import { after, before, describe, test } from 'node:test';
import { defaultMaxMlines } from '@confab/protocol';
import {
  type BridgeProcess,
  FakeFocus,
  SyntheticPeer,
  startBridge,
  until,
} from '../../../test/support/bridgeHarness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const bridgePort = 10460;

/**
 * A UDP relay in front of the bridge that loses media on the way to the receiver (`down`) or to
 * the bridge (`up`): every `nth` RTP packet that way is dropped (STUN, DTLS and RTCP pass), so
 * the loss happens on the wire, before SRTP, as a real network's would.
 */
async function lossyRelay(nth: number, way: 'down' | 'up' = 'down') {
  const front = createSocket('udp4');
  const back = createSocket('udp4');
  await new Promise<void>((r) => front.bind(0, '127.0.0.1', r));
  await new Promise<void>((r) => back.bind(0, '127.0.0.1', r));
  let client: RemoteInfo | undefined;
  let rtp = 0;
  let dropped = 0;
  const lose = (msg: Buffer) => {
    const first = msg[0] ?? 0;
    const pt = msg[1] ?? 0;
    const isRtp = first >= 128 && first <= 191 && !(pt >= 192 && pt <= 223);
    if (!isRtp || ++rtp % nth !== 0) return false;
    dropped++;
    return true;
  };
  front.on('message', (msg, from) => {
    client = from;
    if (way === 'up' && lose(msg)) return;
    back.send(msg, bridgePort, '127.0.0.1');
  });
  back.on('message', (msg) => {
    if (way === 'down' && lose(msg)) return;
    if (client) front.send(msg, client.port, client.address);
  });
  return {
    port: (front.address() as { port: number }).port,
    dropped: () => dropped,
    close() {
      front.close();
      back.close();
    },
  };
}

/** A picture loss indication (RFC 4585 §6.3.1) about `media`. */
function pli(sender: number, media: number): Buffer {
  const b = Buffer.alloc(12);
  b[0] = 0x81;
  b[1] = 206;
  b.writeUInt16BE(2, 2);
  b.writeUInt32BE(sender, 4);
  b.writeUInt32BE(media, 8);
  return b;
}

/** The SSRC the bridge's offer `sdp` names for `mid` (its rewritten SSRC). */
function ssrcOf(sdp: string, mid: string): number {
  const section = sdp
    .split(/\r?\n(?=m=)/)
    .find((s) => new RegExp(`a=mid:${mid}\\r?\\n`).test(`${s}\n`));
  return Number(/a=ssrc:(\d+)/.exec(section ?? '')?.[1] ?? 0);
}

/** A generic NACK (RFC 4585 §6.2.1) for one sequence number of `media`. */
function nack(sender: number, media: number, seq: number): Buffer {
  const b = Buffer.alloc(16);
  b[0] = 0x81;
  b[1] = 205;
  b.writeUInt16BE(3, 2);
  b.writeUInt32BE(sender, 4);
  b.writeUInt32BE(media, 8);
  b.writeUInt16BE(seq, 12);
  return b;
}

/**
 * The bridge process on its media side, driven by synthetic node-datachannel peers through a
 * fake focus (loopback only; `npm test` runs it inside a network namespace of its own).
 */
describe('the bridge with synthetic peers: loss repair, speaker, mute, malformed media', () => {
  let focus: FakeFocus;
  let bridge: BridgeProcess;
  const peers: SyntheticPeer[] = [];
  const join = async (conference: string, endpoint: string) => {
    const p = await SyntheticPeer.join(focus, conference, endpoint);
    p.follow();
    peers.push(p);
    await p.connected(30_000); // the suite runs two files at once on two cores
    return p;
  };
  /** A peer that reaches the bridge only through a relay on `port` (it learns us from our checks). */
  const joinThrough = async (port: number, conference: string, endpoint: string) => {
    const p = await SyntheticPeer.join(focus, conference, endpoint, {
      sendCandidates: false,
      rewriteCandidate: (c) =>
        c.replace(/^(candidate:\S+ \d+ UDP \d+ 127\.0\.0\.1 )\d+/i, `$1${port}`),
    });
    p.follow();
    peers.push(p);
    await p.connected(15_000);
    return p;
  };
  const midOf = (p: SyntheticPeer, user: string, source: string) =>
    Object.entries(p.streams).find(([, s]) => s.user === user && s.source === source)?.[0];

  before(async () => {
    focus = await FakeFocus.start();
    bridge = await startBridge(focus, bridgePort);
  });
  after(async () => {
    for (const p of peers) p.close();
    await bridge?.stop();
    focus?.close();
    // node-datachannel's native threads keep the process alive, and its cleanup() crashes
    // after real peer connections (segfault, node-datachannel 0.33): leave once the runner
    // has reported.
    setTimeout(() => process.exit(0), 1000).unref();
  });

  test('offers carry no candidates: the bridge sends its own only after the answer is set, so a late answer still connects', async () => {
    // libdatachannel starts DTLS as soon as ICE connects; were ICE to connect while the answer
    // is being set, the client's certificate would be refused ("unknown CA").
    const slow = await SyntheticPeer.join(focus, 'late', 'lena', { answerDelayMs: 700 });
    slow.follow();
    peers.push(slow);
    assert.doesNotMatch(slow.firstOffer ?? '', /a=candidate:/);
    await slow.connected(30_000);
    assert.ok(slow.answeredAt && slow.bridgeCandidateAt, 'answered, and got a bridge candidate');
    assert.ok(slow.bridgeCandidateAt >= slow.answeredAt, 'the candidate came after the answer');
    slow.close();
  });

  test("a joiner's keyframe is asked for once its connection is up, not before: one that never connects costs the publisher none", async () => {
    const pub = await join('keyframes', 'kim');
    pub.publish();
    await sleep(500);
    const alone = pub.keyframeRequests;
    // A receiver whose answer comes late: its slot for kim exists from its offer on, but a
    // keyframe sent now would be lost to it (and hold the one it needs behind the gate).
    const late = await SyntheticPeer.join(focus, 'keyframes', 'lou', { answerDelayMs: 1500 });
    late.follow();
    peers.push(late);
    const kimAtLou = () => midOf(late, 'kim', 'camera');
    assert.ok(kimAtLou(), "lou's offer names kim's camera");
    await sleep(1000);
    assert.equal(pub.keyframeRequests, alone, 'no keyframe asked for a receiver not yet up');
    let first: Buffer | undefined;
    late.onPacket = (mid, p) => {
      if (mid === kimAtLou()) first ??= Buffer.from(p);
    };
    await late.connected(30_000);
    await until('kim is asked for a keyframe', () => pub.keyframeRequests > alone);
    await until("lou gets kim's camera", () => first !== undefined);
    // The first packet forwarded is a keyframe's first (the VP8 payload's P bit clear).
    assert.equal((first?.[13] ?? 1) & 0x01, 0, 'the stream starts at a keyframe');
    late.close();
  });

  test("a prejoin's held endpoint is negotiated with the others' streams but gets none of their packets and starts no stream of its own; admitted, it gets them at once without a new offer", async () => {
    const pub = await join('held', 'pia');
    pub.publish();
    await sleep(500);
    const asked = pub.keyframeRequests;
    const held = await SyntheticPeer.join(focus, 'held', 'hal', { held: true });
    held.follow();
    peers.push(held);
    await held.connected(30_000);
    const piaAtHal = midOf(held, 'pia', 'camera');
    assert.ok(piaAtHal && midOf(held, 'pia', 'microphone'), "hal's offer names pia's streams");
    held.publish();
    // Its keyframe requests count for nothing either (else one unlisted page could make every
    // camera in the room send keyframes at the gate's pace).
    const piaSsrc = ssrcOf(held.firstOffer ?? '', piaAtHal);
    assert.ok(piaSsrc > 0, "the offer names pia's camera's SSRC at hal");
    for (let i = 0; i < 6; i++) {
      held.received.get(piaAtHal)?.track.sendMessageBinary(pli(held.videoSsrc, piaSsrc));
      await sleep(250);
    }
    let packets = 0;
    for (const r of held.received.values()) packets += r.packets;
    assert.equal(packets, 0, 'nothing forwarded to a held endpoint');
    assert.equal(midOf(pub, 'hal', 'camera'), undefined, "hal's media starts no stream at pia");
    assert.equal(pub.keyframeRequests, asked, 'no keyframe asked for a held receiver');
    const offers = held.offers;

    let first: Buffer | undefined;
    held.onPacket = (mid, p) => {
      if (mid === piaAtHal) first ??= Buffer.from(p);
    };
    focus.send({ type: 'admit', conference: 'held', endpoint: 'hal' });
    await until("hal gets pia's camera once admitted", () => first !== undefined);
    assert.equal((first?.[13] ?? 1) & 0x01, 0, 'the stream starts at a keyframe');
    assert.equal(held.offers, offers, 'no new offer was needed');
    await until("pia is offered hal's camera", () => midOf(pub, 'hal', 'camera') !== undefined);
    held.close();
    pub.close();
  });

  test('packets lost on the way to a receiver are sent again when it NACKs them, from the cache', async () => {
    const relay = await lossyRelay(9);
    const alice = await join('nack', 'alice');
    alice.publish();
    // Bob reaches the bridge only through the lossy relay.
    const bob = await joinThrough(relay.port, 'nack', 'bob');
    const mid = await waitFor(() => midOf(bob, 'alice', 'camera'));
    const seen = new Set<number>();
    const missing = new Set<number>();
    const repaired = new Set<number>();
    let highest: number | undefined;
    bob.onPacket = (m, packet) => {
      if (m !== mid) return;
      const seq = packet.readUInt16BE(2);
      if (missing.delete(seq)) repaired.add(seq);
      seen.add(seq);
      if (highest !== undefined && ((seq - highest) & 0xffff) > 0x8000) return; // older
      // A gap: NACK what is missing, as a browser would.
      if (highest !== undefined)
        for (let s = (highest + 1) & 0xffff; s !== seq; s = (s + 1) & 0xffff)
          if (!seen.has(s)) {
            missing.add(s);
            try {
              bob.received.get(m)?.track.sendMessageBinary(nack(12345, packet.readUInt32BE(8), s));
            } catch {} // closed while the last packets arrive
          }
      highest = seq;
    };
    await waitFor(() => (relay.dropped() >= 40 && repaired.size >= 30 ? true : undefined), 20_000);
    await sleep(300);
    const lost = repaired.size + missing.size;
    // A retransmission can be the ninth packet too, and is then lost again.
    assert.ok(repaired.size >= lost * 0.8, `${repaired.size} of ${lost} lost packets repaired`);
    const load = await focus.next((m) => m.type === 'load' && m.retransmittedPackets >= 30);
    assert.equal(load.type, 'load');
    relay.close();
    for (const p of [alice, bob]) p.close();
  });

  test('packets lost on the way from a publisher are asked for again (NACK) and reach the receivers', async () => {
    const relay = await lossyRelay(9, 'up');
    // Alice reaches the bridge only through the relay, which loses every ninth RTP packet.
    const alice = await joinThrough(relay.port, 'uplink', 'alice');
    const bob = await join('uplink', 'bob');
    alice.publish();
    const mid = await waitFor(() => midOf(bob, 'alice', 'camera'));
    let first: number | undefined;
    const seen = new Set<number>();
    bob.onPacket = (m, packet) => {
      if (m !== mid) return;
      const seq = packet.readUInt16BE(2);
      first ??= seq;
      seen.add((seq - first) & 0xffff);
    };
    await waitFor(() => (relay.dropped() >= 40 && seen.size >= 400 ? true : undefined), 20_000);
    // What Bob got, but for the last packets (their repair may still be on its way).
    const last = Math.max(...seen) - 20;
    let missing = 0;
    for (let i = 0; i <= last; i++) if (!seen.has(i)) missing++;
    assert.ok(
      missing <= last * 0.01,
      `${missing} of ${last + 1} packets missing at Bob; the relay lost ${relay.dropped()}`,
    );
    relay.close();
    for (const p of [alice, bob]) p.close();
  });

  test('the dominant speaker follows who is loud, and a muted participant is neither forwarded nor heard as speaker', async () => {
    const carol = await join('talk', 'carol');
    const dave = await join('talk', 'dave');
    carol.level = 20;
    dave.level = 127;
    carol.publish();
    dave.publish();
    const first = await focus.next((m) => m.type === 'speaker' && m.conference === 'talk');
    assert.equal(first.type === 'speaker' && first.endpoint, 'carol');
    carol.level = 127;
    dave.level = 15;
    const second = await focus.next((m) => m.type === 'speaker' && m.conference === 'talk');
    assert.equal(second.type === 'speaker' && second.endpoint, 'dave');

    // Dave is muted: Carol stops getting his audio, his video goes on.
    const audioMid = await waitFor(() => midOf(carol, 'dave', 'microphone'));
    const videoMid = await waitFor(() => midOf(carol, 'dave', 'camera'));
    const count = (mid: string) => carol.received.get(mid)?.packets ?? 0;
    focus.send({ type: 'mute', conference: 'talk', endpoint: 'dave', muted: true });
    await sleep(300);
    const [a0, v0] = [count(audioMid), count(videoMid)];
    await sleep(1000);
    assert.equal(count(audioMid), a0, 'no audio from Dave while muted');
    assert.ok(count(videoMid) > v0 + 20, 'his video goes on');
    focus.send({ type: 'mute', conference: 'talk', endpoint: 'dave', muted: false });
    await sleep(1000);
    assert.ok(count(audioMid) > a0 + 20, 'audio again after unmuting');
    // Muting an endpoint the bridge does not have is reported, not thrown.
    focus.send({ type: 'mute', conference: 'talk', endpoint: 'nobody', muted: true });
    const err = await focus.next((m) => m.type === 'error' && m.code === 'unknown_endpoint');
    assert.equal(err.type === 'error' && err.endpoint, 'nobody');
    for (const p of [carol, dave]) p.close();
  });

  test('malformed RTP and RTCP from an endpoint never bring the bridge down (fuzz); others go on', async () => {
    const erin = await join('fuzz', 'erin');
    const frank = await join('fuzz', 'frank');
    const mallory = await join('fuzz', 'mallory');
    erin.publish();
    const mid = await waitFor(() => midOf(frank, 'erin', 'camera'));
    const feedbackTrack = await waitFor(() => {
      const m = midOf(mallory, 'erin', 'camera');
      return m ? mallory.received.get(m)?.track : undefined;
    });
    let sent = 0;
    for (let i = 0; i < 3000; i++) {
      // A version-2 first byte (so that SRTP will carry it), anything after it.
      const junk = randomBytes(randomInt(12, 400));
      junk[0] = 0x80 | (junk[0] ?? 0 & 0x3f);
      const rtcp = i % 2 === 0;
      // Any RTCP type but SDES (202): libdatachannel 0.33's own check of an SDES packet
      // (RtcpSdes::isValid, before the bridge sees it) reads a malformed one's items past its
      // end, and can spin its receive thread for minutes (a CI run on Node 24 caught it: the
      // bridge's main thread waiting on that thread's lock). Native, out of the bridge's reach;
      // the focus's watchdog kills a bridge that stops answering and its conferences move
      // (docs/bridge.md "Known limit: malformed RTCP SDES"). Fixed upstream, 202 comes back.
      if (rtcp) {
        junk[1] = 192 + randomInt(0, 31);
        if (junk[1] >= 202) junk[1]++;
      } else junk[1] = randomInt(0, 2) ? 96 : 111;
      const track = rtcp ? feedbackTrack : i % 3 ? mallory.video : mallory.audio;
      try {
        if (track.sendMessageBinary(junk)) sent++;
      } catch {}
      if (i % 200 === 0) await sleep(10);
    }
    assert.ok(sent > 1000, `${sent} malformed packets went out`);
    await sleep(500);
    assert.equal(bridge.proc.exitCode, null, 'the bridge process is up');
    const before = frank.received.get(mid)?.packets ?? 0;
    await sleep(1000);
    assert.ok((frank.received.get(mid)?.packets ?? 0) > before + 20, 'Frank still gets Erin');
    const grace = await join('fuzz', 'grace');
    await waitFor(() => midOf(grace, 'erin', 'camera'));
    await waitFor(() => (grace.totalReceived() > 20 ? true : undefined));
    for (const p of [erin, frank, mallory, grace]) p.close();
  });

  test('a thousand toggles: the others in that conference are asked a new session once, no offer ever holds more m-lines than the cap, and another conference is untouched', async () => {
    // A low cap for this test (the focus sends one from rtm_max_message_size), put back after.
    const welcome = {
      type: 'welcome',
      videoMaxBitrate: 2_000_000,
      screenMaxBitrate: 2_500_000,
    } as const;
    focus.send({ ...welcome, maxMlines: 16 });
    const xena = await join('calm', 'xena');
    const yuri = await join('calm', 'yuri');
    xena.publish();
    const toggler = await join('loop', 'tom');
    const victim = await join('loop', 'vic');
    toggler.publish();
    victim.publish();
    const calmMid = await waitFor(() =>
      Object.entries(yuri.streams).find(([, s]) => s.user === 'xena' && s.source === 'camera'),
    );
    await waitFor(() => (Object.keys(victim.streams).length >= 2 ? true : undefined));
    // Offers seen from here on (the peers still take them: this only looks).
    let calmOffers = 0;
    const mlines: number[] = [];
    focus.take((m) => {
      if (m.type === 'offer' && m.conference === 'calm') calmOffers++;
      if (m.type === 'offer' && m.conference === 'loop' && m.endpoint === 'vic')
        mlines.push((m.sdp.match(/^m=/gm) ?? []).length);
      return false;
    });
    const packets = () => yuri.received.get(calmMid[0])?.packets ?? 0;
    const before = packets();
    for (let i = 0; i < 1000; i++) {
      focus.send({ type: 'screenshare', conference: 'loop', endpoint: 'tom', active: i % 2 === 0 });
      if (i % 100 === 0) await sleep(20);
    }
    const full = await focus.next((m) => m.type === 'endpoint_full', 20_000);
    assert.deepEqual(full.type === 'endpoint_full' && [full.conference, full.endpoint], [
      'loop',
      'vic',
    ]);
    await sleep(1500);
    assert.equal(
      focus.messages.filter((m) => m.type === 'endpoint_full').length,
      0,
      'asked once, and only for the victim',
    );
    assert.ok(
      mlines.length > 0 && Math.max(...mlines) <= 16,
      `m-lines per offer: ${Math.max(...mlines)}`,
    );
    assert.equal(bridge.proc.exitCode, null, 'the bridge process is up');
    assert.equal(calmOffers, 0, 'the calm conference was offered nothing new');
    assert.ok(packets() > before + 50, 'and its media went on all along');
    focus.send({ ...welcome, maxMlines: defaultMaxMlines });
    for (const p of [xena, yuri, toggler, victim]) p.close();
  });
});

async function waitFor<T>(read: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = read();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(25);
  }
}
