/**
 * SSRC simulcast by answer munging (docs/bridge.md "Simulcast"): the one place that rewrites a
 * session description by hand.
 *
 * The bridge (libdatachannel) routes RTP only by SSRCs named in the client's description, so
 * RID simulcast, whose answer names none, delivers nothing to it. Instead the client's answer
 * names three SSRCs for its camera in an `a=ssrc-group:SIM` (lowest layer first), each with the
 * attribute lines (cname, msid) of the one the browser chose, which stays the lowest layer.
 * Chromium takes such an answer and sends one spatial layer on each SSRC, as many as the
 * capture size allows. Every later answer must name the same SSRCs: a new SSRC in the middle of
 * a session would be a new stream to the bridge.
 */

/** The SSRCs the camera sends with, kept for the session's peer connection. */
export interface SimulcastSsrcs {
  /** Lowest layer first; the first is the SSRC the browser chose for the sender. */
  layers: number[];
  /** Each layer's retransmission SSRC (`a=ssrc-group:FID`), when the browser sends RTX. */
  rtx?: number[];
}

/** Spatial layers the camera is offered: Chromium fills as many as the capture size allows. */
export const simulcastLayers = 3;

export interface MungeResult {
  sdp: string;
  /** The camera's SSRCs as the description now names them; undefined: it sends none there. */
  ssrcs: SimulcastSsrcs | undefined;
}

interface Section {
  /** The section's lines, without line endings. */
  lines: string[];
}

const ssrcLine = /^a=ssrc:(\d+) (.*)$/;
const groupLine = /^a=ssrc-group:(\S+)((?: \d+)*)\s*$/;

/**
 * Rewrites the m-section of `mid` in an answer for SSRC simulcast. With `kept` (an earlier
 * answer's result for the same sender) the same SSRCs are named again. A section that already
 * has a SIM group (the browser kept it from the description set before) stays as it is, and one
 * that names no SSRC (nothing to send, or no such mid) is not touched.
 *
 * `random` gives 32-bit SSRCs for the added layers (tests pass their own).
 */
export function mungeSimulcast(
  sdp: string,
  mid: string,
  kept?: SimulcastSsrcs,
  random: () => number = randomSsrc,
): MungeResult {
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  const sections = splitSections(sdp);
  const section = sections.find((s, i) => i > 0 && s.lines.includes(`a=mid:${mid}`));
  if (!section) return { sdp, ssrcs: undefined };
  const groups = section.lines.map((l) => l.match(groupLine)).filter((m) => m !== null);
  const attrs = new Map<number, string[]>();
  for (const l of section.lines) {
    const m = l.match(ssrcLine);
    if (!m) continue;
    const ssrc = Number(m[1]);
    attrs.set(ssrc, [...(attrs.get(ssrc) ?? []), m[2] ?? '']);
  }
  if (attrs.size === 0) return { sdp, ssrcs: undefined };
  const members = (m: RegExpMatchArray) => (m[2] ?? '').trim().split(/\s+/).map(Number);
  const fid = new Map<number, number>();
  for (const g of groups) {
    const [primary, repair] = members(g);
    if (g[1] === 'FID' && primary !== undefined && repair !== undefined) fid.set(primary, repair);
  }

  const sim = groups.find((g) => g[1] === 'SIM');
  if (sim) {
    // Already simulcast: never a second group, never other SSRCs.
    const layers = members(sim);
    const rtx = layers.map((l) => fid.get(l));
    return { sdp, ssrcs: withRtx(layers, rtx) };
  }

  const repairs = new Set(fid.values());
  const primary = [...attrs.keys()].find((s) => !repairs.has(s));
  if (primary === undefined) return { sdp, ssrcs: undefined };
  const primaryRtx = fid.get(primary);

  // The same sender again: the SSRCs it had. Another one (the browser chose anew): new layers.
  const same = kept?.layers[0] === primary;
  const taken = new Set<number>(allSsrcs(sections));
  const fresh = (): number => {
    for (;;) {
      const s = random() >>> 0;
      if (s !== 0 && !taken.has(s)) {
        taken.add(s);
        return s;
      }
    }
  };
  const layers =
    same && kept && kept.layers.length === simulcastLayers
      ? [...kept.layers]
      : [primary, ...Array.from({ length: simulcastLayers - 1 }, fresh)];
  for (const l of layers) taken.add(l);
  let rtx: number[] | undefined;
  if (primaryRtx !== undefined) {
    rtx =
      same && kept?.rtx?.[0] === primaryRtx && kept.rtx.length === layers.length
        ? [...kept.rtx]
        : [primaryRtx, ...layers.slice(1).map(fresh)];
  }

  const block: string[] = [`a=ssrc-group:SIM ${layers.join(' ')}`];
  if (rtx) for (const [i, l] of layers.entries()) block.push(`a=ssrc-group:FID ${l} ${rtx[i]}`);
  const primaryAttrs = attrs.get(primary) ?? [];
  const rtxAttrs = primaryRtx === undefined ? [] : (attrs.get(primaryRtx) ?? primaryAttrs);
  for (const [i, l] of layers.entries()) {
    for (const a of primaryAttrs) block.push(`a=ssrc:${l} ${a}`);
    const r = rtx?.[i];
    if (r !== undefined) for (const a of rtxAttrs) block.push(`a=ssrc:${r} ${a}`);
  }
  // The new block stands where the section's first SSRC line stood; other groups stay.
  const first = section.lines.findIndex((l) => ssrcLine.test(l) || isRewrittenGroup(l));
  section.lines = [
    ...section.lines.slice(0, first).filter((l) => !isRewrittenGroup(l)),
    ...block,
    ...section.lines.slice(first).filter((l) => !ssrcLine.test(l) && !isRewrittenGroup(l)),
  ];
  return { sdp: joinSections(sections, eol), ssrcs: withRtx(layers, rtx) };
}

/** The SSRCs an m-section names in its SIM group, lowest layer first (none: not simulcast). */
export function simulcastSsrcsOf(sdp: string, mid: string): number[] {
  const section = splitSections(sdp).find((s, i) => i > 0 && s.lines.includes(`a=mid:${mid}`));
  const sim = section?.lines.map((l) => l.match(groupLine)).find((m) => m?.[1] === 'SIM');
  return sim ? (sim[2] ?? '').trim().split(/\s+/).map(Number) : [];
}

/** The FID groups the munger writes anew; a group of any other kind is kept. */
function isRewrittenGroup(line: string): boolean {
  return line.startsWith('a=ssrc-group:FID ') || line.startsWith('a=ssrc-group:SIM ');
}

function withRtx(layers: number[], rtx: (number | undefined)[] | undefined): SimulcastSsrcs {
  const all = rtx?.filter((r) => r !== undefined) ?? [];
  return all.length === layers.length ? { layers, rtx: all } : { layers };
}

function splitSections(sdp: string): Section[] {
  const lines = sdp.split(/\r?\n/);
  // A trailing line ending leaves one empty string, put back by joinSections.
  const sections: Section[] = [{ lines: [] }];
  for (const l of lines) {
    if (l.startsWith('m=')) sections.push({ lines: [] });
    sections.at(-1)?.lines.push(l);
  }
  return sections;
}

function joinSections(sections: Section[], eol: string): string {
  return sections.map((s) => s.lines.join(eol)).join(eol);
}

function allSsrcs(sections: Section[]): number[] {
  const out: number[] = [];
  for (const s of sections)
    for (const l of s.lines) {
      const m = l.match(ssrcLine) ?? l.match(groupLine);
      if (!m) continue;
      if (l.startsWith('a=ssrc:')) out.push(Number(m[1]));
      else out.push(...(m[2] ?? '').trim().split(/\s+/).filter(Boolean).map(Number));
    }
  return out;
}

function randomSsrc(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0] ?? 1;
}

/**
 * How many spatial layers Chromium fills for a capture size, by its pixel count (libwebrtc's
 * simulcast table: three from 960x540, two from 480x270, else one; measured here with Chromium
 * 156: 1280x720 gives 320x180, 640x360 and 1280x720; 640x480 gives 320x240 and 640x480 on the
 * first two SSRCs, the third stays silent).
 */
export function layersForCapture(width: number, height: number): number {
  const pixels = width * height;
  return pixels >= 960 * 540 ? 3 : pixels >= 480 * 270 ? 2 : 1;
}

/**
 * The caps of the layers under the top one, by their width: up to 400 pixels wide (320 at a
 * quarter of 720p or half of 640x480) 150 kbit/s, wider 500 kbit/s. Chromium's own targets at
 * 720p are 150 and 500; given more room it takes it (a 320x240 layer capped at 500 kbit/s was
 * sent at 375), which a receiver's thumbnails then pay for. The top layer gets what
 * `video_max_bitrate` allows (docs/configuration.md).
 */
export const lowerLayerBitrates = { upTo400: 150_000, wider: 500_000 } as const;

/**
 * Each encoding's maxBitrate, lowest first: the top layer the capture fills (`layersForCapture`)
 * and any above it `top`, those under it `lowerLayerBitrates` by their width (never more than
 * `top`). Without a capture size (no camera yet) the layers are taken as 720p's.
 */
export function layerBitrates(
  encodings: number,
  capture: { width?: number | undefined; height?: number | undefined } | undefined,
  top: number,
): number[] {
  const width = capture?.width || 1280;
  const height = capture?.width && capture.height ? capture.height : 720;
  const filled = Math.min(layersForCapture(width, height), encodings);
  return Array.from({ length: encodings }, (_, i) => {
    const below = filled - 1 - i;
    if (below <= 0) return top;
    const layerWidth = width / 2 ** below;
    const cap = layerWidth <= 400 ? lowerLayerBitrates.upTo400 : lowerLayerBitrates.wider;
    return Math.min(cap, top);
  });
}
