import { useEffect, useRef } from 'react';

/** A video element showing a MediaStream; local previews are muted and mirrored. */
export function Video({
  stream,
  muted = false,
  mirrored = false,
  className,
  label,
}: {
  stream: MediaStream | undefined;
  muted?: boolean;
  mirrored?: boolean;
  className?: string;
  label: string;
}) {
  const ref = useRef<HTMLVideoElement>(null);
  useEffect(() => {
    if (ref.current && ref.current.srcObject !== (stream ?? null))
      ref.current.srcObject = stream ?? null;
  }, [stream]);
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
