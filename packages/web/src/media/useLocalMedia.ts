import { useCallback, useEffect, useRef, useState } from 'react';
import { loadMediaSettings, type MediaSettings, saveMediaSettings } from './mediaSettings.js';

/**
 * Why media is missing or partial: camera and microphone refused ("denied"), only the camera
 * refused or absent while the microphone works ("camera": calls go audio only), or no devices
 * or no browser support ("unavailable").
 */
export type MediaError = 'denied' | 'camera' | 'unavailable';

export interface LocalMedia {
  stream: MediaStream | undefined;
  error: MediaError | undefined;
  micOn: boolean;
  camOn: boolean;
  toggleMic(): void;
  toggleCam(): void;
  /** Turns the microphone off (the owner of a group muted it). */
  muteMic(): void;
  retry(): void;
  settings: MediaSettings;
  /** Applies changed Settings: switches only the devices that changed. */
  applySettings(next: MediaSettings): Promise<void>;
}

/**
 * Up to 720p where the camera has it: in group calls the capture size decides how many
 * simulcast layers go up (three from 960x540: 320, 640 and 1280 wide), so that the bridge can
 * send each receiver the size it shows. One-to-one calls send the same capture, under
 * `video_max_bitrate` (docs/configuration.md); Chromium scales it down when the bandwidth or
 * the CPU do not suffice.
 */
const videoConstraints: MediaTrackConstraints = {
  width: { ideal: 1280 },
  height: { ideal: 720 },
  frameRate: { ideal: 24 },
};

function constraintsFor(
  kind: 'audio' | 'video',
  deviceId: string | undefined,
): MediaTrackConstraints {
  const base = kind === 'video' ? videoConstraints : {};
  return deviceId ? { ...base, deviceId: { exact: deviceId } } : base;
}

const isDenied = (err: unknown) =>
  err instanceof DOMException && (err.name === 'NotAllowedError' || err.name === 'SecurityError');

/** getUserMedia; a remembered device that is gone falls back to the default one. */
async function getTracks(
  settings: MediaSettings,
  kinds: { audio: boolean; video: boolean },
): Promise<MediaStreamTrack[]> {
  const ask = (withIds: boolean) =>
    navigator.mediaDevices.getUserMedia({
      audio: kinds.audio && constraintsFor('audio', withIds ? settings.microphoneId : undefined),
      video: kinds.video && constraintsFor('video', withIds ? settings.cameraId : undefined),
    });
  try {
    return (await ask(true)).getTracks();
  } catch (err) {
    const gone =
      err instanceof DOMException &&
      (err.name === 'OverconstrainedError' || err.name === 'NotFoundError');
    if (!gone || (!settings.cameraId && !settings.microphoneId)) throw err;
    return (await ask(false)).getTracks();
  }
}

/** Camera and microphone as the settings say; without a camera, the microphone alone. */
async function openMedia(
  settings: MediaSettings,
): Promise<{ stream?: MediaStream; error?: MediaError }> {
  if (!navigator.mediaDevices?.getUserMedia) return { error: 'unavailable' };
  try {
    return {
      stream: new MediaStream(
        await getTracks(settings, { audio: true, video: !settings.audioOnly }),
      ),
    };
  } catch (err) {
    if (settings.audioOnly) return { error: isDenied(err) ? 'denied' : 'unavailable' };
    try {
      const tracks = await getTracks(settings, { audio: true, video: false });
      return { stream: new MediaStream(tracks), error: 'camera' };
    } catch (again) {
      return { error: isDenied(err) || isDenied(again) ? 'denied' : 'unavailable' };
    }
  }
}

/**
 * The user's camera and microphone, asked for once and kept for the preview and for calls.
 * Turning one off disables its track (the other side sees black or hears silence at once);
 * `initial` starts either off (a room link's `mute` option).
 * Settings changes replace only the tracks they concern, so a call switches devices in place.
 */
export function useLocalMedia(initial: { micOn?: boolean; camOn?: boolean } = {}): LocalMedia {
  const [settings, setSettings] = useState(loadMediaSettings);
  const [stream, setStream] = useState<MediaStream>();
  const [error, setError] = useState<MediaError>();
  const [micOn, setMicOn] = useState(initial.micOn ?? true);
  const [camOn, setCamOn] = useState(initial.camOn ?? true);
  const current = useRef({ stream, settings, micOn, camOn });
  current.current = { stream, settings, micOn, camOn };
  // Each opening of the devices supersedes the one before; one that answers after a newer one
  // started, or after the app let go of the devices, stops its tracks instead.
  const opening = useRef(0);

  const open = useCallback(() => {
    const mine = ++opening.current;
    void openMedia(current.current.settings).then(({ stream: got, error: why }) => {
      if (mine !== opening.current) {
        for (const t of got?.getTracks() ?? []) t.stop();
        return;
      }
      for (const t of got?.getAudioTracks() ?? []) t.enabled = current.current.micOn;
      for (const t of got?.getVideoTracks() ?? []) t.enabled = current.current.camOn;
      const previous = current.current.stream;
      setError(why);
      setStream(got);
      setTimeout(() => {
        for (const t of previous?.getTracks() ?? []) t.stop();
      }, 0);
    });
  }, []);

  useEffect(() => {
    open();
    // Released when the app no longer needs them (sign-out, leaving the page).
    return () => {
      opening.current++;
      for (const t of current.current.stream?.getTracks() ?? []) t.stop();
    };
  }, [open]);

  const toggleMic = useCallback(() => {
    setMicOn((on) => {
      for (const t of current.current.stream?.getAudioTracks() ?? []) t.enabled = !on;
      return !on;
    });
  }, []);
  const muteMic = useCallback(() => {
    for (const t of current.current.stream?.getAudioTracks() ?? []) t.enabled = false;
    setMicOn(false);
  }, []);
  const toggleCam = useCallback(() => {
    setCamOn((on) => {
      for (const t of current.current.stream?.getVideoTracks() ?? []) t.enabled = !on;
      return !on;
    });
  }, []);

  const applySettings = useCallback(
    async (next: MediaSettings) => {
      const { stream: old, settings: prev, micOn: mic, camOn: cam } = current.current;
      saveMediaSettings(next);
      setSettings(next);
      current.current.settings = next;
      if (!old) {
        open();
        return;
      }
      let audio = old.getAudioTracks()[0];
      let video = old.getVideoTracks()[0];
      const stale: MediaStreamTrack[] = [];
      const fresh = async (kind: 'audio' | 'video') =>
        (await getTracks(next, { audio: kind === 'audio', video: kind === 'video' }))[0];
      try {
        if (next.microphoneId !== prev.microphoneId || !audio) {
          const t = await fresh('audio');
          if (t) {
            t.enabled = mic;
            if (audio) stale.push(audio);
            audio = t;
          }
        }
        if (next.audioOnly) {
          if (video) stale.push(video);
          video = undefined;
        } else if (next.cameraId !== prev.cameraId || !video) {
          const t = await fresh('video');
          if (t) {
            t.enabled = cam;
            if (video) stale.push(video);
            video = t;
          }
        }
        setError(video || next.audioOnly ? undefined : 'camera');
      } catch (err) {
        setError(isDenied(err) ? 'denied' : video ? undefined : 'camera');
      }
      setStream(new MediaStream([audio, video].filter((t): t is MediaStreamTrack => !!t)));
      // The old tracks stop once calls have switched to the new ones (after this render).
      setTimeout(() => {
        for (const t of stale) t.stop();
      }, 0);
    },
    [open],
  );

  return {
    stream,
    error,
    micOn,
    camOn,
    toggleMic,
    toggleCam,
    muteMic,
    retry: open,
    settings,
    applySettings,
  };
}
