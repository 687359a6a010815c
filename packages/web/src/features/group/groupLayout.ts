import type { GroupParticipant } from '@confab/protocol';
import type { RemoteMedia } from '../../calls/GroupController.js';

/** "Grid view" off (the default): the stage large with a strip of the others; on: a grid. */
export type GroupLayout = 'speaker' | 'grid';

export type VideoSource = 'camera' | 'screen';

/** One remote video the screen shows in a tile. */
export interface TilePlan {
  user: string;
  source: VideoSource;
  /** This tile is the stage (grid view, where the stage has no large box of its own). */
  stage: boolean;
}

export interface GroupLayoutPlan {
  /** Who is on this screen's stage, and which of their videos; undefined: nobody yet. */
  staged: { user: string; source: VideoSource; pinned: boolean } | undefined;
  /** Whether the stage has its large box above the strip (speaker view with someone staged). */
  stageBox: boolean;
  /** The remote tiles in order: everyone's camera, then the screens not in the stage's box. */
  tiles: TilePlan[];
}

/** A camera with a picture to show at all (a participant with the camera off has only audio). */
export function hasCameraVideo(media: RemoteMedia | undefined): boolean {
  return (media?.camera?.getVideoTracks().length ?? 0) > 0;
}

/**
 * What a group screen shows. The stage is the same person in both layouts: the one pinned
 * here (their screen while they share one), else a shared screen, else the latest dominant
 * speaker with a camera. In speaker view it has a large box of its own and every participant
 * keeps a tile in the strip; in grid view every tile is the same size and the stage's tile is
 * marked, so that the bridge keeps it among the last-N and gives it bandwidth first.
 */
export function planGroupLayout({
  others,
  media,
  speakers,
  pinnedId,
  layout,
}: {
  /** The participants other than oneself, in the order their tiles go. */
  others: GroupParticipant[];
  media: Record<string, RemoteMedia>;
  /** Dominant speakers, latest first. */
  speakers: string[];
  pinnedId: string | undefined;
  layout: GroupLayout;
}): GroupLayoutPlan {
  const pinned = others.find((p) => p.id === pinnedId);
  const sharer = others.find((p) => media[p.id]?.screen);
  const speaker = speakers
    .map((id) => others.find((p) => p.id === id))
    .find((p) => p && hasCameraVideo(media[p.id]));
  const person = pinned ?? sharer ?? speaker;
  const staged = person && {
    user: person.id,
    source: (media[person.id]?.screen ? 'screen' : 'camera') as VideoSource,
    pinned: person === pinned,
  };
  const stageBox = layout === 'speaker' && !!staged;
  const isStage = (user: string, source: VideoSource) =>
    layout === 'grid' && staged?.user === user && staged.source === source;
  const tiles: TilePlan[] = others.map((p) => ({
    user: p.id,
    source: 'camera',
    stage: isStage(p.id, 'camera'),
  }));
  for (const p of others) {
    if (!media[p.id]?.screen) continue;
    if (stageBox && staged?.user === p.id && staged.source === 'screen') continue;
    tiles.push({ user: p.id, source: 'screen', stage: isStage(p.id, 'screen') });
  }
  return { staged, stageBox, tiles };
}

/** How the grid lays its tiles out: the columns, and each tile's width in CSS pixels. */
export interface GridFit {
  columns: number;
  tileWidth: number;
}

/**
 * The grid for `count` tiles of 4:3 in a box of `width` × `height` CSS pixels: of every column
 * count, the one that gives the largest tiles with all of them inside the box (a tile as wide
 * as its column, or narrower where the rows would not fit the height). When that leaves tiles
 * under `minWidth`, as many columns as fit at that width, as wide as they can be: the grid
 * then scrolls, and the tiles out of sight are not received.
 */
export function gridFit(
  count: number,
  width: number,
  height: number,
  gap: number,
  minWidth: number,
): GridFit {
  const columnWidth = (columns: number) => (width - gap * (columns - 1)) / columns;
  let best: GridFit = { columns: 1, tileWidth: 0 };
  for (let columns = 1; columns <= Math.max(1, count); columns++) {
    const rows = Math.ceil(count / columns);
    const rowHeight = (height - gap * (rows - 1)) / rows;
    const tileWidth = Math.floor(Math.min(columnWidth(columns), (rowHeight * 4) / 3));
    if (tileWidth > best.tileWidth) best = { columns, tileWidth };
  }
  if (best.tileWidth >= minWidth) return best;
  const columns = Math.max(1, Math.min(count, Math.floor((width + gap) / (minWidth + gap))));
  return { columns, tileWidth: Math.max(0, Math.floor(columnWidth(columns))) };
}

/** Up to two letters: the first of the first and of the last word. */
export function initialsOf(name: string): string {
  const words = name.trim().split(/\s+/).filter(Boolean);
  const first = [...(words[0] ?? '')][0] ?? '';
  const last = words.length > 1 ? ([...(words.at(-1) ?? '')][0] ?? '') : '';
  return (first + last).toUpperCase();
}
