import { useCallback, useEffect, useState } from 'react';

export interface LocalMedia {
  stream: MediaStream | undefined;
  error: 'denied' | 'unavailable' | undefined;
  micOn: boolean;
  camOn: boolean;
  toggleMic(): void;
  toggleCam(): void;
  retry(): void;
}

/**
 * The user's camera and microphone, asked for once and kept for the preview and for calls.
 * Turning one off disables its track (the other side sees black or hears silence at once).
 */
export function useLocalMedia(): LocalMedia {
  const [stream, setStream] = useState<MediaStream>();
  const [error, setError] = useState<LocalMedia['error']>();
  const [micOn, setMicOn] = useState(true);
  const [camOn, setCamOn] = useState(true);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let cancelled = false;
    let got: MediaStream | undefined;
    navigator.mediaDevices
      ?.getUserMedia({
        audio: true,
        video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 24 } },
      })
      .then(
        (s) => {
          got = s;
          if (cancelled) return s.getTracks().forEach((t) => t.stop());
          setError(undefined);
          setStream(s);
        },
        (err: DOMException) =>
          !cancelled &&
          setError(
            err.name === 'NotAllowedError' || err.name === 'SecurityError'
              ? 'denied'
              : 'unavailable',
          ),
      );
    return () => {
      cancelled = true;
      for (const t of got?.getTracks() ?? []) t.stop();
    };
  }, [attempt]);

  const toggleMic = useCallback(() => {
    setMicOn((on) => {
      for (const t of stream?.getAudioTracks() ?? []) t.enabled = !on;
      return !on;
    });
  }, [stream]);
  const toggleCam = useCallback(() => {
    setCamOn((on) => {
      for (const t of stream?.getVideoTracks() ?? []) t.enabled = !on;
      return !on;
    });
  }, [stream]);

  return {
    stream,
    error,
    micOn,
    camOn,
    toggleMic,
    toggleCam,
    retry: () => setAttempt((a) => a + 1),
  };
}
