import type { ServerMessage, WebConfig, WebrtcClientDraft } from '@confab/protocol';
import { useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import { markLinkOptionsUsed } from '../../app/linkOptions.js';
import { roomTakesGuests } from '../../auth/guestSignIn.js';
import type { Auth } from '../../auth/useAuth.js';
import { CallController } from '../../calls/CallController.js';
import { ChatController } from '../../calls/ChatController.js';
import { GroupController } from '../../calls/GroupController.js';
import { addRecentCall, loadRecentCalls, type RecentCall } from '../../calls/recentCalls.js';
import { t } from '../../i18n/index.js';
import type { LocalMedia } from '../../media/useLocalMedia.js';
import { RtmClient, type RtmStatus } from '../../rtm/RtmClient.js';
import { AppsGrid } from '../apps/AppsGrid.js';
import { CallEnded, InCall, IncomingCall, OutgoingCall } from '../call/CallScreens.js';
import { LocalPreview } from '../call/LocalPreview.js';
import { Contacts } from '../contacts/Contacts.js';
import { GroupCall, GroupLanding, GroupWaiting, JoinGroupDialog } from '../group/GroupScreens.js';
import { SettingsDialog } from '../settings/SettingsDialog.js';

export interface MainScreenProps {
  config: WebConfig;
  auth: Auth;
  media: LocalMedia;
  name: string;
  /** The signed-in user's id (recent calls are kept per user). */
  userId: string;
  /** A group room's id (`group/<name>`) when the address is a room's link. */
  room?: string | undefined;
  /** Join `room` as soon as signaling and the devices are ready (a link's `auto` option). */
  autoJoin?: boolean;
}

/** The signed-in app: own camera, "New call", "Contacts", "Settings", and calls over signaling. */
export function MainScreen({ config, auth, media, name, userId, room, autoJoin }: MainScreenProps) {
  const [recent, setRecent] = useState<RecentCall[]>(() => loadRecentCalls(userId));
  const [status, setStatus] = useState<RtmStatus>('connecting');
  const [everConnected, setEverConnected] = useState(false);
  const [panel, setPanel] = useState<'none' | 'contacts' | 'settings' | 'newCall' | 'joinGroup'>(
    'none',
  );
  const [selfId, setSelfId] = useState<string>();
  const selfRef = useRef<{ id: string; name: string }>(undefined);
  // Calls take the camera stream current when they start.
  const streamRef = useRef(media.stream);
  streamRef.current = media.stream;
  const audioOnlyRef = useRef(media.settings.audioOnly);
  audioOnlyRef.current = media.settings.audioOnly;
  const muteMicRef = useRef(media.muteMic);
  muteMicRef.current = media.muteMic;

  const { rtm, calls, groups, chat } = useMemo(() => {
    // The socket comes first (the calls send on it); its events reach the calls once they exist.
    const handlers: { message: (m: ServerMessage) => void } = { message: () => {} };
    const controllers: Pick<CallController, 'setTurn' | 'reconnected'>[] = [];
    const rtm = new RtmClient({
      tokens: auth.tokens,
      onMessage: (m) => handlers.message(m),
      onStatus: (s, self, turn) => {
        setStatus(s);
        if (s === 'connected') {
          setEverConnected(true);
          setSelfId(self?.id);
          selfRef.current = self ? { id: self.id, name: self.name } : undefined;
          for (const c of controllers) {
            c.setTurn(turn);
            c.reconnected();
          }
        }
      },
      onTurn: (turn) => {
        for (const c of controllers) c.setTurn(turn);
      },
      onEnded: () => auth.ended(),
    });
    const webrtc = (config.kwm.webrtc?.config ?? {}) as RTCConfiguration;
    const videoKbps = config.kwm.sdpParams?.videoSendBitrate ?? 1000;
    const screenKbps = config.kwm.sdpParamsScreenshare?.videoSendBitrate ?? 2500;
    // One-to-one and group calls share the signaling socket, the camera and the settings.
    const shared = {
      send: (m: WebrtcClientDraft) => rtm.send(m),
      localStream: () => streamRef.current,
      rtcConfig: () => webrtc,
      videoMaxBitrate: () => videoKbps * 1000,
      screenMaxBitrate: () => screenKbps * 1000,
      audioOnly: () => audioOnlyRef.current,
    };
    const calls = new CallController({
      ...shared,
      onFinished: (c) => setRecent(addRecentCall(userId, { ...c, at: Date.now() })),
    });
    const groups = new GroupController({ ...shared, onMutedByOwner: () => muteMicRef.current() });
    controllers.push(calls, groups);
    const chat = new ChatController({ send: (m) => rtm.send(m), self: () => selfRef.current });
    handlers.message = (m) => {
      if (chat.handles(m)) chat.handle(m);
      else if (groups.handles(m)) groups.handle(m);
      else calls.handle(m);
    };
    return { rtm, calls, groups, chat };
  }, [auth.tokens, auth.ended, config, userId]);
  const callState = useSyncExternalStore(calls.subscribe, calls.getState);
  const groupState = useSyncExternalStore(groups.subscribe, groups.getState);

  useEffect(() => {
    rtm.start();
    return () => rtm.stop();
  }, [rtm]);
  // Settings changed during a call: new devices switch in place; audio only renegotiates.
  useEffect(() => calls.updateLocalStream(media.stream), [calls, media.stream]);
  // Turning the camera or microphone on or off changes what a group sends too: a track that is
  // off leaves its sender (GroupController), so the effect runs on those flags as well.
  // biome-ignore lint/correctness/useExhaustiveDependencies: the flags are read through the tracks' `enabled`
  useEffect(
    () => groups.updateLocalStream(media.stream),
    [groups, media.stream, media.camOn, media.micOn],
  );
  useEffect(
    () => groups.setAudioOnly(media.settings.audioOnly),
    [groups, media.settings.audioOnly],
  );
  useEffect(() => groups.microphoneChanged(media.micOn), [groups, media.micOn]);
  // Leaving the room's address leaves its call.
  useEffect(() => {
    const s = groups.getState();
    if (s.phase !== 'idle' && s.phase !== 'failed' && s.group !== room) groups.leave();
  }, [groups, room]);
  useEffect(() => () => groups.leave(), [groups]);
  // Closing or reloading the page leaves the group at once: the server's reconnect grace is
  // for signaling that drops, not for someone who went away.
  useEffect(() => {
    const leave = () => groups.leave();
    window.addEventListener('pagehide', leave);
    return () => window.removeEventListener('pagehide', leave);
  }, [groups]);
  // A link's `auto` option: once, when signaling is up and the devices answered.
  const autoJoined = useRef(false);
  const devicesReady = !!media.stream || !!media.error;
  useEffect(() => {
    if (!autoJoin || !room || autoJoined.current || status !== 'connected' || !devicesReady) return;
    autoJoined.current = true;
    markLinkOptionsUsed(`/meet/r/${room}`);
    groups.join(room);
  }, [autoJoin, room, status, devicesReady, groups]);
  useEffect(() => calls.setAudioOnly(media.settings.audioOnly), [calls, media.settings.audioOnly]);

  const inGroup = groupState.phase === 'joining' || groupState.phase === 'joined';
  // The chat of the call or the group one is in (a group's channel is `@group/<name>`).
  const chatChannel =
    inGroup && !groupState.waiting && !groupState.asking
      ? `@${groupState.group}`
      : callState.phase === 'active'
        ? callState.channel
        : undefined;
  useEffect(() => chat.setChannel(chatChannel), [chat, chatChannel]);
  const inCall = callState.phase === 'outgoing' || callState.phase === 'active' || inGroup;
  // On the room's landing page (signaling up, the devices answered), its bridge session is
  // made ahead of "Join call" (the prejoin); leaving the page, or a call, ends it. Not when the
  // link joins by itself (`auto`): that join comes at once.
  const landing =
    !inCall && room && status === 'connected' && devicesReady && !autoJoin ? room : undefined;
  useEffect(() => groups.prepare(landing), [groups, landing]);

  return (
    <>
      {everConnected && status !== 'connected' && (
        <div className="banner" role="alert">
          {t('connection.lost')}
        </div>
      )}
      {callState.phase === 'outgoing' && (
        <OutgoingCall state={callState} media={media} calls={calls} />
      )}
      {callState.phase === 'active' && (
        <InCall
          state={callState}
          media={media}
          calls={calls}
          chat={chat}
          onSettings={() => setPanel('settings')}
        />
      )}
      {inGroup && (groupState.waiting || groupState.asking) && (
        <GroupWaiting
          group={groupState.group}
          media={media}
          asking={groupState.asking}
          onLeave={() => groups.leave()}
        />
      )}
      {inGroup && !groupState.waiting && !groupState.asking && (
        <GroupCall
          chat={chat}
          state={groupState}
          isPublic={roomTakesGuests(config, groupState.group)}
          selfId={selfId}
          media={media}
          groups={groups}
          onSettings={() => setPanel('settings')}
        />
      )}
      {!inCall && room && (
        <GroupLanding
          group={room}
          isPublic={roomTakesGuests(config, room)}
          media={media}
          failed={
            groupState.phase === 'failed' && groupState.group === room ? groupState : undefined
          }
          onJoin={() => groups.join(room)}
        />
      )}
      {inCall && panel === 'settings' && (
        <SettingsDialog media={media} onDone={() => setPanel('none')} />
      )}
      {!inCall && !room && (
        <section className="main-screen" aria-labelledby="main-title">
          <h1 id="main-title">{t('main.hello', { name })}</h1>
          <LocalPreview media={media} />
          <div className="main-actions">
            <button type="button" onClick={() => setPanel('newCall')}>
              {t('main.newCall')}
            </button>
            <button type="button" className="secondary" onClick={() => setPanel('contacts')}>
              {t('main.contacts')}
            </button>
            <button type="button" className="secondary" onClick={() => setPanel('settings')}>
              {t('main.settings')}
            </button>
          </div>
          {panel === 'newCall' && (
            <section className="panel" aria-labelledby="new-call-title">
              <h2 id="new-call-title">{t('newCall.title')}</h2>
              <div className="main-actions">
                <button type="button" onClick={() => setPanel('joinGroup')}>
                  {t('group.joinOrCreate')}
                </button>
                <button type="button" className="secondary" onClick={() => setPanel('contacts')}>
                  {t('main.contacts')}
                </button>
              </div>
            </section>
          )}
          {panel === 'joinGroup' && <JoinGroupDialog onClose={() => setPanel('none')} />}
          {panel === 'contacts' && (
            <Contacts
              selfId={selfId}
              tokens={auth.tokens}
              onClose={() => setPanel('none')}
              onCall={(c, audioOnly) => {
                setPanel('none');
                calls.call({ id: c.id, name: c.displayName }, audioOnly);
              }}
            />
          )}
          {panel === 'settings' && <SettingsDialog media={media} onDone={() => setPanel('none')} />}
          {panel === 'none' && (
            <RecentCalls calls={recent} onCall={(c) => calls.call(c.peer, c.audioOnly)} />
          )}
          {panel === 'none' && <AppsGrid apps={config.apps} />}
        </section>
      )}
      {callState.phase === 'incoming' && <IncomingCall state={callState} calls={calls} />}
      {callState.phase === 'ended' && <CallEnded state={callState} calls={calls} />}
    </>
  );
}

const timeFormat = new Intl.DateTimeFormat('en', { dateStyle: 'medium', timeStyle: 'short' });

/** The recent calls of this user in this browser, each one click to call again. */
function RecentCalls({ calls, onCall }: { calls: RecentCall[]; onCall(call: RecentCall): void }) {
  return (
    <section className="panel recent" aria-labelledby="recent-title">
      <h2 id="recent-title">{t('recent.title')}</h2>
      {calls.length === 0 && <p>{t('recent.none')}</p>}
      <ul className="contacts">
        {calls.map((c) => (
          <li key={`${c.at}-${c.peer.id}`} aria-label={c.peer.name}>
            <span className="contact-name">{c.peer.name}</span>
            <span className="contact-mail">
              {t(c.direction === 'outgoing' ? 'recent.outgoing' : 'recent.incoming')}
              {c.audioOnly ? ` (${t('recent.audio')})` : ''} · {t(`recent.outcome.${c.outcome}`)} ·{' '}
              {timeFormat.format(c.at)}
            </span>
            <span className="contact-actions">
              <button type="button" onClick={() => onCall(c)}>
                {t('call.call')}
              </button>
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}
