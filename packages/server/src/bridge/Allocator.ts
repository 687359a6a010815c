/**
 * Which layer of each forwarded video one receiver gets: a pure function of what the receiver
 * shows, its bandwidth estimate and the layers each publisher sends, with its hysteresis kept in
 * a state the caller passes back in. The endpoint runs it (`Endpoint.allocate`) and the
 * forwarder carries out its choices at the chosen layers' keyframes.
 *
 * Order (as Jitsi Videobridge and LiveKit do it): the receiver's stage first, at the best layer
 * that fits its tile and the estimate; then every other visible tile at its lowest layer; then,
 * while bandwidth remains, each raised one layer at a time in priority order (stage, screen
 * shares, the latest speakers) up to what its tile needs. When even the lowest layer does not
 * fit, fewer temporal layers (a lower frame rate) are tried; a thumbnail that fits in none is
 * paused, the stage never is, nor a publisher without simulcast (it has nothing smaller).
 *
 * Hysteresis, so that a steady link keeps its choices: an estimate within 15% of the one last
 * used counts as unchanged (Jitsi); after a layer was lowered for bandwidth, none is raised for
 * bandwidth for 10 s (mediasoup); a layer above what a receiver gets is chosen only once it has
 * sent for 2 s without a pause (mediasoup): a layer Chromium just turned on (its publisher's
 * REMB grew because someone pinned it) stalled the receiver's decoder for over a second when
 * taken at once. A tile that grew, or a new stage, is not held back by a downgrade's hold.
 */

/** One spatial layer of a source, as the allocator sees it. */
export interface LayerInfo {
  /** Bits per second now (0: not known yet). */
  bitrate: number;
  /** Of temporal layers 0, 0-1 and 0-2 (all 0: not known, or no temporal layers). */
  temporalBitrates: ArrayLike<number>;
  /** Picture width from its last keyframe (0: not known). */
  width: number;
  /** Sending now. */
  active: boolean;
  /** Sending for long enough to be chosen above what the receiver gets. */
  settled: boolean;
}

/** One forwarded video at this receiver. */
export interface TileInfo {
  /** The slot's mid. */
  key: string;
  /** Lowest first. */
  layers: readonly LayerInfo[];
  /** How wide the receiver shows it (device pixels); 0: not shown. */
  width: number;
  /** The receiver's stage: served first. */
  stage: boolean;
  screen: boolean;
  /** Lower is more recent among the dominant speakers; Infinity for someone not heard. */
  speakerRank: number;
  /** Its publisher's place in the last-N order (`Conference.lastNRank`; lower comes first). */
  lastNRank?: number;
  /** It sends nothing although nobody told it to stop (a camera turned off): it takes no place
   * in last-N. */
  silent?: boolean;
}

/** A layer (-1: none) with its temporal layers up to `temporal`. */
export interface Choice {
  spatial: number;
  temporal: number;
}

export interface AllocatorState {
  /** The estimate last used (bits per second; Infinity: none). */
  estimate: number;
  /** Until then nothing is raised for bandwidth (after a downgrade). */
  holdUntil: number;
  choices: ReadonlyMap<string, Choice>;
  /** What each tile needed last time, to tell a tile that grew from bandwidth that came back. */
  needs: ReadonlyMap<string, number>;
}

export interface Allocation {
  choices: Map<string, Choice>;
  state: AllocatorState;
  /** Bits per second the choices take. */
  allocated: number;
  /** Bits per second it would take to give every tile what it needs (to size probes). */
  wanted: number;
}

/** An estimate change smaller than this share of the last is no change. */
export const estimateDeadband = 0.15;
/** No raise for bandwidth this long after a layer was lowered for it. */
export const raiseHoldMs = 10_000;
/** A layer this much narrower than the tile still serves it (scaling up by 10% is invisible). */
const widthSlack = 0.9;
/** Temporal layers: all of them. */
const allTemporal = 2;

export const initialAllocatorState: AllocatorState = {
  estimate: Number.POSITIVE_INFINITY,
  holdUntil: 0,
  choices: new Map(),
  needs: new Map(),
};

/**
 * Chooses for one receiver. `estimate`: its downstream estimate in bits/s (Infinity: none).
 * `congested`: it reports real loss. Only then does the estimate limit the stage, or a tile get
 * fewer frames or pause: a REMB built from RTP timestamps (no abs-send-time or transport-cc)
 * falls far below what a link carries whenever a busy machine delays packets (Chromium's fell
 * to 160-400 kbit/s on loopback in the browser tests while it received 450), so without loss
 * it decides only how far thumbnails are raised above their lowest layer.
 */
export function allocate(
  tiles: readonly TileInfo[],
  estimate: number,
  prev: AllocatorState,
  now: number,
  congested = true,
): Allocation {
  const used =
    Number.isFinite(prev.estimate) &&
    Number.isFinite(estimate) &&
    Math.abs(estimate - prev.estimate) < prev.estimate * estimateDeadband
      ? prev.estimate
      : estimate;
  const holding = now < prev.holdUntil;
  const order = [...tiles].sort(byPriority);
  const needs = new Map<string, number>();
  const choices = new Map<string, Choice>();
  let budget = used;
  let wanted = 0;

  // What each tile can have: a layer that sends; above the one it has, a settled one; and while
  // holding, nothing above it unless the tile needs more than before.
  const allowed = new Map<string, number[]>();
  for (const tile of order) {
    const need = needOf(tile);
    needs.set(tile.key, need);
    const had = prev.choices.get(tile.key)?.spatial ?? -1;
    const grew = need > (prev.needs.get(tile.key) ?? -1);
    const ok: number[] = [];
    for (let i = 0; i <= need; i++) {
      const layer = tile.layers[i];
      if (!layer?.active) continue;
      if (i > had && had >= 0 && !layer.settled) continue;
      if (i > had && holding && !grew) continue;
      ok.push(i);
    }
    allowed.set(tile.key, ok);
    if (need >= 0) wanted += rateOf(tile.layers[need], allTemporal);
  }

  const take = (tile: TileInfo, choice: Choice): void => {
    choices.set(tile.key, choice);
    budget -= rateOf(tile.layers[choice.spatial], choice.temporal);
  };
  // The stage: its best allowed layer that fits, else its lowest at the frame rate that fits.
  for (const tile of order) {
    const ok = allowed.get(tile.key) ?? [];
    if (!tile.stage || ok.length === 0) continue;
    // Without loss the stage gets what its tile needs; the estimate rules it only on a lossy link.
    const fits = [...ok]
      .reverse()
      .find((i) => !congested || rateOf(tile.layers[i], allTemporal) <= budget);
    take(
      tile,
      fits !== undefined
        ? { spatial: fits, temporal: allTemporal }
        : lowest(tile, ok, budget, true, congested),
    );
  }
  // Every other tile shown: its lowest layer, fewer frames, or paused (those only when the
  // receiver is congested). A publisher without
  // simulcast is never paused: it has nothing smaller, and its own rate follows its slowest
  // receiver (its REMB), as before there were layers.
  for (const tile of order) {
    const ok = allowed.get(tile.key) ?? [];
    if (choices.has(tile.key)) continue;
    if (ok.length === 0) {
      choices.set(tile.key, { spatial: -1, temporal: allTemporal });
      continue;
    }
    take(tile, lowest(tile, ok, budget, tile.layers.length === 1, congested));
  }
  // Raise one step at a time in priority order while the budget lasts.
  for (let raised = true; raised; ) {
    raised = false;
    for (const tile of order) {
      const choice = choices.get(tile.key);
      const ok = allowed.get(tile.key) ?? [];
      if (!choice || choice.spatial < 0 || choice.temporal < allTemporal) continue;
      const next = ok.find((i) => i > choice.spatial);
      if (next === undefined) continue;
      const extra =
        rateOf(tile.layers[next], allTemporal) - rateOf(tile.layers[choice.spatial], allTemporal);
      if (extra > budget) continue;
      budget -= extra;
      choices.set(tile.key, { spatial: next, temporal: allTemporal });
      raised = true;
    }
  }

  // A tile that now gets less than before although it needs as much: lowered for bandwidth
  // (not when the last choice was made without an estimate: that was no bandwidth known).
  let lowered = false;
  for (const tile of Number.isFinite(prev.estimate) ? order : []) {
    const had = prev.choices.get(tile.key);
    const got = choices.get(tile.key);
    if (!had || !got || had.spatial < 0) continue;
    const need = needs.get(tile.key) ?? -1;
    const less =
      got.spatial < had.spatial || (got.spatial === had.spatial && got.temporal < had.temporal);
    if (less && need >= had.spatial && tile.layers[had.spatial]?.active) lowered = true;
  }
  const allocated = Number.isFinite(used) ? used - budget : sum(choices, tiles);
  return {
    choices,
    state: {
      estimate: used,
      holdUntil: lowered ? now + raiseHoldMs : prev.holdUntil,
      choices,
      needs,
    },
    allocated,
    wanted,
  };
}

/**
 * Last-N: of the cameras the receiver shows, only the first `n` are forwarded (-1: all), its
 * stage first, then by who spoke most recently, then by who joined first (`lastNRank`); the
 * others count as not shown (width 0), so that they cost nothing, and they come back as their
 * publishers speak. The stage is always kept, even at `n` 0. A camera that sends nothing of its
 * own accord (`silent`: turned off) takes no place. Screen shares are not counted and always
 * kept. Returns the tiles with those past the cut hidden (new objects; the others as they were).
 */
export function applyLastN(tiles: readonly TileInfo[], n: number): TileInfo[] {
  if (n < 0) return [...tiles];
  const cameras = tiles
    .filter((t) => !t.screen && !t.silent && t.width > 0)
    .sort(
      (a, b) =>
        Number(b.stage) - Number(a.stage) ||
        (a.lastNRank ?? Infinity) - (b.lastNRank ?? Infinity) ||
        (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
    );
  const keep = Math.max(n, cameras.filter((t) => t.stage).length);
  if (cameras.length <= keep) return [...tiles];
  const cut = new Set(cameras.slice(keep).map((t) => t.key));
  return tiles.map((t) => (cut.has(t.key) ? { ...t, width: 0, stage: false } : t));
}

/**
 * The layer a tile needs: the narrowest that fills its width, else the widest (-1: hidden). A
 * shown tile whose source has sent nothing yet needs its first layer (so that nobody pauses it).
 */
export function needOf(tile: TileInfo): number {
  if (tile.width <= 0) return -1;
  const n = tile.layers.length;
  if (n === 0) return 0;
  for (let i = 0; i < n; i++) {
    const w = tile.layers[i]?.width || nominalWidth(i, n);
    if (w >= tile.width * widthSlack) return i;
  }
  return n - 1;
}

/** Where no keyframe told a layer's width: ¼, ½ and full of 1280 for three layers. */
function nominalWidth(index: number, count: number): number {
  return 1280 >> (count - 1 - index);
}

function lowest(
  tile: TileInfo,
  ok: readonly number[],
  budget: number,
  stage: boolean,
  congested: boolean,
): Choice {
  const spatial = ok[0] ?? -1;
  if (!congested) return { spatial, temporal: allTemporal };
  const layer = tile.layers[spatial];
  for (let t = allTemporal; t >= 0; t--) {
    if (rateOf(layer, t) <= budget) return { spatial, temporal: t };
  }
  return stage ? { spatial, temporal: 0 } : { spatial: -1, temporal: allTemporal };
}

/**
 * A layer's bitrate up to temporal layer `t` (the whole layer when it has no temporal ones).
 * Before its rate is measured (its first second), what Chromium sends at that width.
 */
function rateOf(layer: LayerInfo | undefined, t: number): number {
  if (!layer) return 0;
  const whole = layer.bitrate > 0 ? layer.bitrate : nominalBitrate(layer.width);
  if (t >= allTemporal) return whole;
  const r = layer.temporalBitrates[t] ?? 0;
  return r > 0 ? r : whole;
}

/** About what Chromium's VP8 takes at a width: 150 kbit/s at 320, 500 at 640, 1.5 M at 1280. */
export function nominalBitrate(width: number): number {
  if (width <= 0) return 500_000;
  return width <= 400 ? 150_000 : width <= 800 ? 500_000 : 1_500_000;
}

function sum(choices: ReadonlyMap<string, Choice>, tiles: readonly TileInfo[]): number {
  let total = 0;
  for (const tile of tiles) {
    const c = choices.get(tile.key);
    if (c && c.spatial >= 0) total += rateOf(tile.layers[c.spatial], c.temporal);
  }
  return total;
}

function byPriority(a: TileInfo, b: TileInfo): number {
  return (
    Number(b.stage) - Number(a.stage) ||
    Number(b.screen) - Number(a.screen) ||
    a.speakerRank - b.speakerRank ||
    (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
  );
}
