import { type ReactNode, type RefObject, useEffect, useRef, useState } from 'react';
import type { ShownTiles, TileOf } from '../group/ShownTiles.js';

/** How long a camera may show no new frame before its tile shows the placeholder instead. */
export const stalledAfterMs = 2000;

/**
 * A video element showing a MediaStream; local previews are muted and mirrored. With a
 * `placeholder`, that shows instead of the picture (over the element, which stays in place
 * and goes on playing the sound) while there is none: no video track, not `forwarded`, or,
 * with `watchFrames`, no frame for `stalledAfterMs` (a camera turned off sends nothing, and
 * the element would hold its last frame).
 */
export function Video({
  stream,
  muted = false,
  mirrored = false,
  className,
  label,
  sinkId,
  shows,
  placeholder,
  forwarded = true,
  watchFrames = false,
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
  placeholder?: ReactNode;
  /** The picture arrives (false: the bridge does not forward it now). */
  forwarded?: boolean;
  watchFrames?: boolean;
}) {
  const ref = useRef<HTMLVideoElement>(null);
  const hasVideo = (stream?.getVideoTracks().length ?? 0) > 0;
  const arriving = useFramesArrive(ref, stream, watchFrames && hasVideo && forwarded);
  const pictured = hasVideo && forwarded && (!watchFrames || arriving);
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
    const el = ref.current;
    if (!el) return;
    if (el.srcObject !== (stream ?? null)) el.srcObject = stream ?? null;
    // An element that leaves the page still holding the camera's stream makes Chromium drop
    // that camera's frames for every sink, a new call's sender too, for ~2 s (the self view
    // moves between screens as a call starts): let go of the stream on the way out.
    return () => {
      el.srcObject = null;
    };
  }, [stream]);
  useEffect(() => {
    const el = ref.current as (HTMLVideoElement & { setSinkId?(id: string): Promise<void> }) | null;
    if (!el || muted || sinkId === undefined || !el.setSinkId) return;
    el.setSinkId(sinkId).catch(() => {
      // The device went away or may not be used: the default output plays on.
    });
  }, [sinkId, muted]);
  return (
    <>
      <video
        ref={ref}
        className={`${className ?? ''}${mirrored ? ' mirrored' : ''}`}
        autoPlay
        playsInline
        muted={muted}
        aria-label={label}
        data-picture={placeholder === undefined ? undefined : String(pictured)}
      />
      {placeholder !== undefined && !pictured && placeholder}
    </>
  );
}

/**
 * Whether the element presents frames: true from each frame on, false once `stalledAfterMs`
 * pass without one (and until the first). Without requestVideoFrameCallback (older browsers)
 * frames are taken to arrive.
 */
function useFramesArrive(
  ref: RefObject<HTMLVideoElement | null>,
  stream: MediaStream | undefined,
  watch: boolean,
): boolean {
  const [arriving, setArriving] = useState(false);
  useEffect(() => {
    const el = ref.current;
    if (!watch || !el || !stream) {
      setArriving(false);
      return;
    }
    if (typeof el.requestVideoFrameCallback !== 'function') {
      setArriving(true);
      return;
    }
    let last = Number.NEGATIVE_INFINITY;
    let now = false;
    const set = (on: boolean) => {
      if (on === now) return;
      now = on;
      setArriving(on);
    };
    let handle = 0;
    const onFrame = () => {
      last = performance.now();
      set(true);
      handle = el.requestVideoFrameCallback(onFrame);
    };
    handle = el.requestVideoFrameCallback(onFrame);
    const timer = setInterval(() => {
      if (performance.now() - last > stalledAfterMs) set(false);
    }, stalledAfterMs / 4);
    return () => {
      el.cancelVideoFrameCallback(handle);
      clearInterval(timer);
    };
  }, [ref, stream, watch]);
  return arriving;
}
