import type { Page } from 'playwright-core';

/**
 * How many incoming video streams the page is decoding right now: inbound-rtp video entries of
 * its peer connections whose framesDecoded rises over `sampleMs`.
 */
export async function countDecodingVideoStreams(page: Page, sampleMs = 1500): Promise<number> {
  return page.evaluate(async (ms) => {
    const pcs =
      (window as unknown as { __confabPeerConnections?: RTCPeerConnection[] })
        .__confabPeerConnections ?? [];
    const snapshot = async () => {
      const frames = new Map<string, number>();
      for (const [i, pc] of pcs.entries()) {
        if (pc.connectionState === 'closed') continue;
        const stats = await pc.getStats();
        stats.forEach((s: { type: string; kind?: string; id: string; framesDecoded?: number }) => {
          if (s.type === 'inbound-rtp' && s.kind === 'video')
            frames.set(`${i}:${s.id}`, s.framesDecoded ?? 0);
        });
      }
      return frames;
    };
    const before = await snapshot();
    await new Promise((r) => setTimeout(r, ms));
    const after = await snapshot();
    let decoding = 0;
    for (const [id, n] of after) if (n > (before.get(id) ?? 0)) decoding++;
    return decoding;
  }, sampleMs);
}

/** Waits until the page decodes at least `count` video streams, or throws after `timeoutMs`. */
export async function waitForDecodingVideo(
  page: Page,
  count: number,
  timeoutMs = 20000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let seen = 0;
  while (Date.now() < deadline) {
    seen = await countDecodingVideoStreams(page, 1000);
    if (seen >= count) return seen;
  }
  throw new Error(`expected ${count} decoding video streams, saw ${seen}`);
}

export interface RtpTotals {
  audioPacketsIn: number;
  audioPacketsOut: number;
  videoPacketsIn: number;
  videoPacketsOut: number;
  /** frameWidth of every inbound video stream that decoded a frame. */
  videoWidths: number[];
}

/** Packet totals over the page's open peer connections (getStats). */
export async function rtpTotals(page: Page): Promise<RtpTotals> {
  return page.evaluate(async () => {
    const pcs =
      (window as unknown as { __confabPeerConnections?: RTCPeerConnection[] })
        .__confabPeerConnections ?? [];
    const t = {
      audioPacketsIn: 0,
      audioPacketsOut: 0,
      videoPacketsIn: 0,
      videoPacketsOut: 0,
      videoWidths: [] as number[],
    };
    for (const pc of pcs) {
      if (pc.connectionState === 'closed') continue;
      (await pc.getStats()).forEach(
        (s: {
          type: string;
          kind?: string;
          packetsReceived?: number;
          packetsSent?: number;
          framesDecoded?: number;
          frameWidth?: number;
        }) => {
          if (s.type === 'inbound-rtp' && s.kind === 'audio')
            t.audioPacketsIn += s.packetsReceived ?? 0;
          if (s.type === 'outbound-rtp' && s.kind === 'audio')
            t.audioPacketsOut += s.packetsSent ?? 0;
          if (s.type === 'inbound-rtp' && s.kind === 'video') {
            t.videoPacketsIn += s.packetsReceived ?? 0;
            if ((s.framesDecoded ?? 0) > 0 && s.frameWidth) t.videoWidths.push(s.frameWidth);
          }
          if (s.type === 'outbound-rtp' && s.kind === 'video')
            t.videoPacketsOut += s.packetsSent ?? 0;
        },
      );
    }
    return t;
  });
}

/** Polls `read` until `ok` holds, returning the last value; throws with it after `timeoutMs`. */
export async function pollUntil<T>(
  read: () => Promise<T>,
  ok: (value: T) => boolean,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!ok(value)) {
    if (Date.now() > deadline)
      throw new Error(`${what} not reached in ${timeoutMs} ms; last: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 250));
    value = await read();
  }
  return value;
}

/** The remote ports of the selected candidate pairs of the page's open peer connections. */
export async function selectedRemotePorts(page: Page): Promise<number[]> {
  return page.evaluate(async () => {
    const pcs =
      (window as unknown as { __confabPeerConnections?: RTCPeerConnection[] })
        .__confabPeerConnections ?? [];
    const ports: number[] = [];
    for (const pc of pcs) {
      if (pc.connectionState === 'closed') continue;
      const stats = await pc.getStats();
      const byId = new Map<string, Record<string, unknown>>();
      stats.forEach((s: Record<string, unknown>) => {
        byId.set(s.id as string, s);
      });
      for (const s of byId.values()) {
        if (s.type !== 'transport' || !s.selectedCandidatePairId) continue;
        const pair = byId.get(s.selectedCandidatePairId as string);
        const remote = pair && byId.get(pair.remoteCandidateId as string);
        if (remote) ports.push(Number(remote.port));
      }
    }
    return ports;
  });
}

/** What a page receives of one participant's audio: packets and energy (getStats). */
export async function audioFrom(
  page: Page,
  name: string,
): Promise<{ packets: number; energy: number }> {
  return page.evaluate(async (who) => {
    const tiles = document.querySelectorAll('ul.tiles li');
    const li = [...tiles].find((l) => l.querySelector('.tile-name')?.textContent?.startsWith(who));
    const stream = li?.querySelector('video')?.srcObject as MediaStream | null | undefined;
    const track = stream?.getAudioTracks()[0];
    const pcs =
      (window as unknown as { __confabPeerConnections?: RTCPeerConnection[] })
        .__confabPeerConnections ?? [];
    for (const pc of pcs) {
      if (!track || pc.connectionState === 'closed') continue;
      const receiver = pc.getReceivers().find((r) => r.track === track);
      if (!receiver) continue;
      let found = { packets: 0, energy: 0 };
      (await receiver.getStats()).forEach(
        (s: { type: string; packetsReceived?: number; totalAudioEnergy?: number }) => {
          if (s.type === 'inbound-rtp')
            found = { packets: s.packetsReceived ?? 0, energy: s.totalAudioEnergy ?? 0 };
        },
      );
      return found;
    }
    return { packets: -1, energy: -1 };
  }, name);
}

/** How much of a participant's audio arrives over `ms`. */
export async function audioFlow(page: Page, name: string, ms = 2500) {
  const before = await audioFrom(page, name);
  await new Promise((r) => setTimeout(r, ms));
  const after = await audioFrom(page, name);
  return { packets: after.packets - before.packets, energy: after.energy - before.energy };
}

/** The packets the bridges last reported forwarding (`/metrics`, a load report every 2 s). */
export async function bridgeForwardedPackets(baseUrl: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n'))
    if (line.startsWith('confab_bridge_forwarded_packets_total'))
      sum += Number(line.split(' ').at(-1));
  return sum;
}
