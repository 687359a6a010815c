import type { ReactNode } from 'react';
import { t } from '../../i18n/index.js';
import { canShareScreen } from '../../media/mediaSettings.js';
import type { LocalMedia } from '../../media/useLocalMedia.js';

export interface ScreenShareControl {
  sharing: boolean;
  /** Off in audio only calls. */
  disabled: boolean;
  toggle(): void;
}

/**
 * "Microphone", "Camera" (pressed = sending), "Share screen" / "Stop sharing" where the browser
 * can share a screen, a call's own controls (`children`: a group's "Grid view"), "Settings" and
 * "Hang up".
 */
export function CallControls({
  media,
  onHangUp,
  screen,
  onSettings,
  children,
}: {
  media: LocalMedia;
  onHangUp(): void;
  screen?: ScreenShareControl;
  onSettings?(): void;
  children?: ReactNode;
}) {
  return (
    <div className="call-controls">
      <MediaToggles media={media} />
      {screen && canShareScreen && (
        <button
          type="button"
          className={screen.sharing ? 'toggle sharing' : 'toggle'}
          disabled={screen.disabled}
          onClick={screen.toggle}
        >
          {t(screen.sharing ? 'call.stopSharing' : 'call.shareScreen')}
        </button>
      )}
      {children}
      {onSettings && (
        <button type="button" className="secondary" onClick={onSettings}>
          {t('call.settings')}
        </button>
      )}
      <button type="button" className="danger" onClick={onHangUp}>
        {t('call.hangUp')}
      </button>
    </div>
  );
}

/** "Microphone" and "Camera", pressed while sending: in calls and on landing pages. */
export function MediaToggles({ media }: { media: LocalMedia }) {
  return (
    <>
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
    </>
  );
}

/** The green "You are sharing your screen" indicator. */
export function SharingIndicator() {
  return (
    <p className="sharing-indicator" role="status">
      <span className="dot" aria-hidden="true" />
      {t('call.sharing')}
    </p>
  );
}
