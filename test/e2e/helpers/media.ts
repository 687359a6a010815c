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
