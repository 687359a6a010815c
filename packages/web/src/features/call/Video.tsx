import { useEffect, useRef } from 'react';

/** A video element showing a MediaStream; local previews are muted and mirrored. */
export function Video({
  stream,
  muted = false,
  mirrored = false,
  className,
  label,
  sinkId,
}: {
  stream: MediaStream | undefined;
  muted?: boolean;
  mirrored?: boolean;
  className?: string;
  label: string;
  /** The audio output ("Speaker device"), where the browser can choose one. */
  sinkId?: string | undefined;
}) {
  const ref = useRef<HTMLVideoElement>(null);
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
