import { useEffect, useId, useRef, useState } from 'react';
import { t } from '../../i18n/index.js';
import { canChooseSpeaker, type MediaSettings } from '../../media/mediaSettings.js';
import type { LocalMedia } from '../../media/useLocalMedia.js';

/** The devices of one kind, as the browser lists them (names once media was allowed). */
function useDevices(): MediaDeviceInfo[] {
  const [devices, setDevices] = useState<MediaDeviceInfo[]>([]);
  useEffect(() => {
    const md = navigator.mediaDevices;
    if (!md?.enumerateDevices) return;
    let live = true;
    const list = () => void md.enumerateDevices().then((d) => live && setDevices(d));
    list();
    md.addEventListener('devicechange', list);
    return () => {
      live = false;
      md.removeEventListener('devicechange', list);
    };
  }, []);
  return devices;
}

/**
 * Settings: "Audio only", and "Camera device", "Microphone device", "Speaker device". Changes
 * apply on "Done" (in a call too, where devices switch without interrupting it); Escape closes
 * without changing anything.
 */
export function SettingsDialog({ media, onDone }: { media: LocalMedia; onDone(): void }) {
  const [draft, setDraft] = useState<MediaSettings>(media.settings);
  const [applying, setApplying] = useState(false);
  const devices = useDevices();
  const id = useId();
  const first = useRef<HTMLButtonElement>(null);
  const close = useRef(onDone);
  close.current = onDone;
  // A modal dialog takes the focus when it opens, and Escape closes it (without applying)
  // wherever the focus is.
  useEffect(() => {
    first.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') close.current();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);
  const inUse = (kind: 'audio' | 'video') =>
    (kind === 'audio'
      ? media.stream?.getAudioTracks()
      : media.stream?.getVideoTracks())?.[0]?.getSettings().deviceId;

  const done = async () => {
    const s = media.settings;
    const changed =
      s.audioOnly !== draft.audioOnly ||
      s.cameraId !== draft.cameraId ||
      s.microphoneId !== draft.microphoneId ||
      s.speakerId !== draft.speakerId;
    if (changed) {
      setApplying(true);
      await media.applySettings(draft);
    }
    onDone();
  };

  const picker = (
    field: 'cameraId' | 'microphoneId' | 'speakerId',
    kind: MediaDeviceKind,
    label: string,
    current: string | undefined,
    disabled = false,
  ) => {
    const options = devices.filter((d) => d.kind === kind && d.deviceId !== '');
    const value = draft[field] ?? current ?? '';
    return (
      <div className="field">
        <label htmlFor={`${id}-${field}`}>{label}</label>
        <select
          id={`${id}-${field}`}
          value={options.some((d) => d.deviceId === value) ? value : ''}
          disabled={disabled}
          onChange={(e) => {
            const v = e.target.value;
            setDraft((d) => {
              const next = { ...d };
              if (v) next[field] = v;
              else delete next[field];
              return next;
            });
          }}
        >
          <option value="">{t('settings.default')}</option>
          {options.map((d, i) => (
            <option key={d.deviceId} value={d.deviceId}>
              {d.label || t('settings.unnamed', { kind: label, n: String(i + 1) })}
            </option>
          ))}
        </select>
      </div>
    );
  };

  return (
    <div className="dialog-backdrop">
      <div
        role="dialog"
        aria-modal="true"
        aria-labelledby={`${id}-title`}
        className="dialog settings"
      >
        <h2 id={`${id}-title`}>{t('settings.title')}</h2>
        <div className="field switch-field">
          <button
            ref={first}
            type="button"
            role="switch"
            aria-checked={draft.audioOnly}
            aria-describedby={`${id}-audio-only`}
            className={draft.audioOnly ? 'switch on' : 'switch'}
            onClick={() => setDraft((d) => ({ ...d, audioOnly: !d.audioOnly }))}
          >
            {t('settings.audioOnly')}
          </button>
          <p id={`${id}-audio-only`} className="hint">
            {t('settings.audioOnlyHint')}
          </p>
        </div>
        {picker('cameraId', 'videoinput', t('settings.camera'), inUse('video'), draft.audioOnly)}
        {picker('microphoneId', 'audioinput', t('settings.microphone'), inUse('audio'))}
        {canChooseSpeaker && picker('speakerId', 'audiooutput', t('settings.speaker'), undefined)}
        <div className="dialog-actions">
          <button type="button" onClick={() => void done()} disabled={applying}>
            {t('settings.done')}
          </button>
        </div>
      </div>
    </div>
  );
}
