import { t } from '../../i18n/index.js';
import type { LocalMedia } from '../../media/useLocalMedia.js';

/** "Microphone", "Camera" (pressed = sending) and "Hang up". */
export function CallControls({ media, onHangUp }: { media: LocalMedia; onHangUp(): void }) {
  return (
    <div className="call-controls">
      <button
        type="button"
        aria-pressed={media.micOn}
        className={media.micOn ? 'toggle on' : 'toggle'}
        onClick={media.toggleMic}
      >
        {t('call.microphone')}
      </button>
      <button
        type="button"
        aria-pressed={media.camOn}
        className={media.camOn ? 'toggle on' : 'toggle'}
        onClick={media.toggleCam}
      >
        {t('call.camera')}
      </button>
      <button type="button" className="danger" onClick={onHangUp}>
        {t('call.hangUp')}
      </button>
    </div>
  );
}
