import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import type { CallController, CallState } from '../../calls/CallController.js';
import type { ChatController } from '../../calls/ChatController.js';
import { t } from '../../i18n/index.js';
import type { LocalMedia } from '../../media/useLocalMedia.js';
import { ChatButton, ChatPanel } from '../chat/ChatPanel.js';
import { CallControls, SharingIndicator } from './CallControls.js';
import { Video } from './Video.js';

/** While ringing out: grey, an hourglass and a moving bar, own video small, "Hang up". */
export function OutgoingCall({
  state,
  media,
  calls,
}: {
  state: Extract<CallState, { phase: 'outgoing' }>;
  media: LocalMedia;
  calls: CallController;
}) {
  return (
    <section
      className="call-screen outgoing"
      aria-label={t('call.calling', { name: state.peer.name })}
    >
      <div className="ringing">
        <svg className="hourglass" viewBox="0 0 24 24" width="48" height="48" aria-hidden="true">
          <path
            d="M6 2h12v2c0 3-2.5 5.2-4.2 6.5L12 12l1.8 1.5C15.5 14.8 18 17 18 20v2H6v-2c0-3 2.5-5.2 4.2-6.5L12 12l-1.8-1.5C8.5 9.2 6 7 6 4V2z"
            fill="none"
            stroke="currentColor"
            strokeWidth="1.6"
            strokeLinejoin="round"
          />
          <path d="M9 20c0-1.6 1.3-2.8 3-4 1.7 1.2 3 2.4 3 4z" fill="currentColor" />
        </svg>
        <p role="status">{t('call.calling', { name: state.peer.name })}</p>
        <div className="moving-bar" aria-hidden="true" />
      </div>
      <Video stream={media.stream} muted mirrored className="self-view" label={t('main.preview')} />
      <div className="call-controls">
        <button type="button" className="danger" onClick={() => calls.hangUp()}>
          {t('call.hangUp')}
        </button>
      </div>
    </section>
  );
}

/**
 * In a call: the other side fills the screen, or its shared screen does with its camera in a
 * strip; controls show on pointer or focus, then fade.
 */
export function InCall({
  state,
  media,
  calls,
  chat,
  onSettings,
}: {
  state: Extract<CallState, { phase: 'active' }>;
  media: LocalMedia;
  calls: CallController;
  chat: ChatController;
  onSettings(): void;
}) {
  const chatOpen = useSyncExternalStore(chat.subscribe, () => chat.getState().open);
  const [idle, setIdle] = useState(false);
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined);
  const wake = useCallback(() => {
    setIdle(false);
    clearTimeout(timer.current);
    timer.current = setTimeout(() => setIdle(true), 3000);
  }, []);
  useEffect(() => {
    wake();
    return () => clearTimeout(timer.current);
  }, [wake]);
  const sinkId = media.settings.speakerId ?? '';
  return (
    <section
      className={`call-screen active${idle ? ' idle' : ''}${state.screen ? ' with-screen' : ''}`}
      aria-label={t('call.with', { name: state.peer.name })}
      onPointerMove={wake}
      onFocus={wake}
    >
      {state.screen && (
        <Video
          stream={state.screen}
          muted
          className="remote-view screen"
          label={t('call.screenOf', { name: state.peer.name })}
        />
      )}
      <Video
        stream={state.remote}
        className={state.screen ? 'strip-view' : 'remote-view'}
        label={state.peer.name}
        sinkId={sinkId}
      />
      {!state.remote && <p className="call-status">{t('call.connecting')}</p>}
      {state.remote && state.media === 'interrupted' && (
        <p className="call-status" role="status">
          {t('call.interrupted', { name: state.peer.name })}
        </p>
      )}
      {state.sharing && <SharingIndicator />}
      <Video stream={media.stream} muted mirrored className="self-view" label={t('main.preview')} />
      <CallControls
        media={media}
        onHangUp={() => calls.hangUp()}
        onSettings={onSettings}
        screen={{
          sharing: state.sharing,
          disabled: state.audioOnly,
          toggle: () => (state.sharing ? calls.stopScreenShare() : void calls.startScreenShare()),
        }}
      >
        <ChatButton chat={chat} />
      </CallControls>
      {chatOpen && <ChatPanel chat={chat} className="overlay-panel" />}
    </section>
  );
}

/** Someone calls: a dialog named after the caller, ringing until answered, declined or ignored. */
export function IncomingCall({
  state,
  calls,
}: {
  state: Extract<CallState, { phase: 'incoming' }>;
  calls: CallController;
}) {
  useRingtone();
  useNotification(state.peer.name);
  return (
    <div className="dialog-backdrop">
      <div role="dialog" aria-modal="true" aria-label={state.peer.name} className="dialog incoming">
        <div className="ring" aria-hidden="true" />
        <h2>{t('call.incoming', { name: state.peer.name })}</h2>
        <div className="dialog-actions">
          <button type="button" className="accept" onClick={() => calls.accept()}>
            {t('call.accept')}
          </button>
          <button type="button" className="danger" onClick={() => calls.decline()}>
            {t('call.decline')}
          </button>
          <button type="button" className="secondary" onClick={() => calls.ignore()}>
            {t('call.ignore')}
          </button>
        </div>
      </div>
    </div>
  );
}

/** How a call ended, for the caller: "Call declined", "Busy", "No answer", "Not reachable". */
export function CallEnded({
  state,
  calls,
}: {
  state: Extract<CallState, { phase: 'ended' }>;
  calls: CallController;
}) {
  useEffect(() => {
    const timer = setTimeout(() => calls.dismiss(), 8000);
    return () => clearTimeout(timer);
  }, [calls]);
  return (
    <div className="notice ended" role="status">
      <p>{t(`call.ended.${state.reason}`)}</p>
      <button type="button" className="secondary" onClick={() => calls.dismiss()}>
        {t('call.dismiss')}
      </button>
    </div>
  );
}

/** A ringtone from a WebAudio oscillator, where the browser lets the page make sound. */
function useRingtone() {
  useEffect(() => {
    let ctx: AudioContext | undefined;
    let timer: ReturnType<typeof setInterval> | undefined;
    try {
      ctx = new AudioContext();
      if (ctx.state === 'running') {
        const beep = () => {
          if (!ctx) return;
          const osc = ctx.createOscillator();
          const gain = ctx.createGain();
          gain.gain.value = 0.08;
          osc.frequency.value = 440;
          osc.connect(gain).connect(ctx.destination);
          osc.start();
          osc.stop(ctx.currentTime + 0.4);
        };
        beep();
        timer = setInterval(beep, 1500);
      }
    } catch {
      // No sound without a user gesture: the dialog still rings visibly.
    }
    return () => {
      clearInterval(timer);
      void ctx?.close();
    };
  }, []);
}

/** A system notification while the tab is in the background (when the user allowed them). */
function useNotification(name: string) {
  useEffect(() => {
    if (
      typeof Notification === 'undefined' ||
      Notification.permission !== 'granted' ||
      !document.hidden
    )
      return;
    const n = new Notification(t('call.incoming', { name }), {
      tag: 'confab-call',
      requireInteraction: true,
    });
    n.onclick = () => window.focus();
    return () => n.close();
  }, [name]);
}
