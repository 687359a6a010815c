import { useEffect, useRef } from 'react';
import type { ShownTiles, TileOf } from '../group/ShownTiles.js';

/** A video element showing a MediaStream; local previews are muted and mirrored. */
export function Video({
  stream,
  muted = false,
  mirrored = false,
  className,
  label,
  sinkId,
  shows,
}: {
  stream: MediaStream | undefined;
  muted?: boolean;
  mirrored?: boolean;
  className?: string;
  label: string;
  /** The audio output ("Speaker device"), where the browser can choose one. */
  sinkId?: string | undefined;
  /** Whose video it is, for the group screen's report of what it shows (and how large). */
  shows?: { tiles: ShownTiles } & TileOf;
}) {
  const ref = useRef<HTMLVideoElement>(null);
  const tiles = shows?.tiles;
  const user = shows?.user;
  const source = shows?.source;
  const stage = shows?.stage;
  useEffect(() => {
    const el = ref.current;
    if (!el || !tiles || !user || !source) return;
    return tiles.observe(el, { user, source, ...(stage ? { stage } : {}) });
  }, [tiles, user, source, stage]);
  useEffect(() => {
    if (ref.current && ref.current.srcObject !== (stream ?? null))
      ref.current.srcObject = stream ?? null;
  }, [stream]);
  useEffect(() => {
    const el = ref.current as (HTMLVideoElement & { setSinkId?(id: string): Promise<void> }) | null;
    if (!el || muted || sinkId === undefined || !el.setSinkId) return;
    el.setSinkId(sinkId).catch(() => {
      // The device went away or may not be used: the default output plays on.
    });
  }, [sinkId, muted]);
  return (
    <video
      ref={ref}
      className={`${className ?? ''}${mirrored ? ' mirrored' : ''}`}
      autoPlay
      playsInline
      muted={muted}
      aria-label={label}
    />
  );
}
