import { lobbyRetryMs, roomNameMaxLength, roomNamePattern } from '@confab/protocol';
import { type RefObject, useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import { navigate } from '../../app/router.js';
import type { ChatController } from '../../calls/ChatController.js';
import type { GroupController, GroupState } from '../../calls/GroupController.js';
import { t } from '../../i18n/index.js';
import type { LocalMedia } from '../../media/useLocalMedia.js';
import { CallControls, MediaToggles, SharingIndicator } from '../call/CallControls.js';
import { LocalPreview } from '../call/LocalPreview.js';
import { Video } from '../call/Video.js';
import { ChatButton, ChatPanel } from '../chat/ChatPanel.js';
import { FormDialog } from '../common/FormDialog.js';
import { type GroupLayout, gridFit, initialsOf, planGroupLayout } from './groupLayout.js';
import { InviteActions } from './Invite.js';
import {
  LobbyRequests,
  OwnerControls,
  RaiseHandButton,
  ReactionBubbles,
  ReactionsMenu,
} from './MeetingControls.js';
import { ShownTiles } from './ShownTiles.js';

/** The room path for a name as typed: lower-cased, trimmed, `public/` when guests may join. */
export function roomPath(name: string, isPublic: boolean): string | undefined {
  const clean = name.trim().toLowerCase().replace(/\/+$/, '');
  if (!clean || clean.length > roomNameMaxLength || !roomNamePattern.test(clean)) return undefined;
  const path = isPublic && !clean.startsWith('public/') ? `public/${clean}` : clean;
  return path.length <= roomNameMaxLength ? `group/${path}` : undefined;
}

/** "Join or create group": a name, whether guests may come, "Join". */
export function JoinGroupDialog({ onClose }: { onClose(): void }) {
  const [name, setName] = useState('');
  const [isPublic, setPublic] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);
  const path = roomPath(name, isPublic);
  return (
    <FormDialog
      title={t('group.joinOrCreate')}
      submitLabel={t('group.join')}
      canSubmit={!!path}
      onSubmit={() => path && navigate(`/meet/r/${path}`)}
      onClose={onClose}
    >
      <label className="field">
        <span>{t('group.name')}</span>
        <input
          ref={input}
          type="text"
          value={name}
          maxLength={roomNameMaxLength}
          autoCapitalize="none"
          spellCheck={false}
          aria-invalid={name !== '' && !path}
          aria-describedby="group-name-help"
          onChange={(e) => setName(e.target.value.toLowerCase())}
        />
      </label>
      <p id="group-name-help" className="hint">
        {t('group.nameHelp')}
      </p>
      <div className="field switch-field">
        <button
          type="button"
          role="switch"
          aria-checked={isPublic}
          className={isPublic ? 'switch on' : 'switch'}
          onClick={() => setPublic(!isPublic)}
        >
          {t('group.public')}
        </button>
      </div>
    </FormDialog>
  );
}

/** Before joining: the room's name, own preview, "Microphone", "Camera", "Join call". */
export function GroupLanding({
  group,
  isPublic,
  media,
  failed,
  onJoin,
}: {
  group: string;
  /** Guests may join (the shared link carries `#guest=1`). */
  isPublic: boolean;
  media: LocalMedia;
  failed: Extract<GroupState, { phase: 'failed' }> | undefined;
  onJoin(): void;
}) {
  const denied = failed?.reason === 'denied';
  return (
    <section className="group-landing" aria-labelledby="group-title">
      <h1 id="group-title">{t('group.title', { name: group.replace(/^group\//, '') })}</h1>
      {failed && (
        <p className="notice" role="alert">
          {t(`group.failed.${failed.reason}`, { name: failed.message ?? '' })}
        </p>
      )}
      {denied && <AskAgain since={failed.at ?? 0} onAsk={onJoin} />}
      <LocalPreview media={media} />
      <div className="main-actions">
        <MediaToggles media={media} />
        {!denied && (
          <button type="button" onClick={onJoin}>
            {t('group.joinCall')}
          </button>
        )}
      </div>
      <div className="main-actions">
        <InviteActions group={group} isPublic={isPublic} />
      </div>
    </section>
  );
}

/**
 * Held by the server before the call: a guest who came before the host (joined when the host
 * starts the room), or anyone while the lobby is on ("Asking to join…", joined when the owner
 * lets them in). Own preview, "Microphone", "Camera", "Leave".
 */
export function GroupWaiting({
  group,
  media,
  onLeave,
  asking = false,
}: {
  group: string;
  media: LocalMedia;
  onLeave(): void;
  asking?: boolean;
}) {
  const name = group.replace(/^group\//, '');
  return (
    <section className="group-landing" aria-labelledby="waiting-title">
      <h1 id="waiting-title">{t(asking ? 'group.asking' : 'group.waiting')}</h1>
      <p role="status">{t(asking ? 'group.askingLead' : 'group.waitingLead', { name })}</p>
      <LocalPreview media={media} />
      <div className="main-actions">
        <MediaToggles media={media} />
        <button type="button" className="secondary" onClick={onLeave}>
          {t('group.leave')}
        </button>
      </div>
    </section>
  );
}

/** "Ask again", enabled `lobbyRetryMs` after the host turned this user away (the server's wait). */
function AskAgain({ since, onAsk }: { since: number; onAsk(): void }) {
  const [ready, setReady] = useState(() => Date.now() - since >= lobbyRetryMs);
  useEffect(() => {
    if (ready) return;
    const timer = setTimeout(
      () => setReady(true),
      Math.max(0, lobbyRetryMs - (Date.now() - since)),
    );
    return () => clearTimeout(timer);
  }, [ready, since]);
  return (
    <div className="main-actions">
      <button type="button" disabled={!ready} onClick={onAsk}>
        {t('group.askAgain')}
      </button>
    </div>
  );
}

/** The smallest tile of the grid, in CSS pixels: past it, the grid scrolls. */
const minGridTile = 128;

/**
 * In a group call: a tile per participant (name, owner and guest marks, the speaker marked,
 * "Pin NAME"), the participant list, and the call controls with "Grid view". Speaker view
 * (the default) shows the stage large with the tiles in a strip under it; grid view shows
 * every tile the same size, as large as lets them all fit (`gridFit`). The stage is chosen on
 * this screen only (`planGroupLayout`): the pinned participant (their screen while they share
 * one), else a shared screen, else the latest dominant speaker with a camera. What is shown,
 * and how large, goes to the bridge (`GroupController.setView`), which sends each video at the
 * layer that fits and nothing for a tile out of sight; a video it does not forward shows the
 * participant's initials under the name instead of a frozen picture.
 */
export function GroupCall({
  state,
  isPublic,
  selfId,
  media,
  groups,
  chat,
  onSettings,
}: {
  state: Extract<GroupState, { phase: 'joining' | 'joined' }>;
  isPublic: boolean;
  selfId: string | undefined;
  media: LocalMedia;
  groups: GroupController;
  chat: ChatController;
  onSettings(): void;
}) {
  const chatOpen = useSyncExternalStore(chat.subscribe, () => chat.getState().open);
  const sinkId = media.settings.speakerId ?? '';
  const [pinnedId, setPinnedId] = useState<string>();
  const [layout, setLayout] = useState<GroupLayout>('speaker');
  const shown = useMemo(() => new ShownTiles((view) => groups.setView(view)), [groups]);
  useEffect(
    () => () => {
      shown.disconnect();
      groups.setView({});
    },
    [shown, groups],
  );
  const tilesRef = useRef<HTMLUListElement>(null);
  const box = useBoxSize(tilesRef);
  const others = state.participants.filter((p) => p.id !== selfId);
  const self = state.participants.find((p) => p.id === selfId);
  const byId = new Map(others.map((p) => [p.id, p]));
  const plan = planGroupLayout({
    others,
    media: state.media,
    speakers: state.speakers,
    pinnedId,
    layout,
  });
  const staged = plan.staged && byId.get(plan.staged.user);
  const stagedMedia = staged ? state.media[staged.id] : undefined;
  const stageSource = plan.staged?.source ?? 'camera';
  // The latest dominant speaker (oneself too: the tile says so).
  const speaking = state.speakers[0];
  const fit =
    layout === 'grid'
      ? gridFit(plan.tiles.length + 1, box.width, box.height, box.gap, minGridTile)
      : undefined;
  const name = state.group.replace(/^group\//, '');
  const isOwner = !!self?.owner;
  return (
    <section
      className={`group-call${plan.stageBox ? ' with-screen' : ''}${layout === 'grid' ? ' grid-view' : ''}`}
      aria-label={t('group.inCall', { name })}
    >
      {plan.stageBox && staged && (
        <div className="group-stage-box">
          <Video
            key={`${staged.id}/${stageSource}`}
            stream={stageSource === 'screen' ? stagedMedia?.screen : stagedMedia?.camera}
            muted
            className={`group-screen${stageSource === 'camera' ? ' group-stage' : ''}`}
            label={
              stageSource === 'screen'
                ? t('call.screenOf', { name: staged.name })
                : plan.staged?.pinned
                  ? t('group.stagePinned', { name: staged.name })
                  : t('group.stage', { name: staged.name })
            }
            shows={{ tiles: shown, user: staged.id, source: stageSource, stage: true }}
            forwarded={stagedMedia?.forwarded[stageSource] ?? false}
            watchFrames={stageSource === 'camera'}
            placeholder={<NoPicture name={staged.name} withName />}
          />
        </div>
      )}
      <ul
        ref={tilesRef}
        className="tiles"
        aria-label={t('group.tiles')}
        style={
          fit ? { gridTemplateColumns: `repeat(${fit.columns}, ${fit.tileWidth}px)` } : undefined
        }
      >
        <li className={`tile self${speaking && speaking === selfId ? ' speaking' : ''}`}>
          <Video
            stream={media.stream}
            muted
            mirrored
            className="tile-video"
            label={t('main.preview')}
            forwarded={media.camOn}
            placeholder={<NoPicture name={self?.name ?? t('group.you')} />}
          />
          <span className="tile-name">
            {t('group.you')}
            <TileMarks
              owner={!!self?.owner}
              guest={false}
              speaking={!!speaking && speaking === selfId}
              hand={self?.hand !== undefined}
            />
          </span>
          <ReactionBubbles user={selfId} name={t('group.you')} shown={state.reactions} />
        </li>
        {plan.tiles.map(({ user, source, stage }) => {
          const p = byId.get(user);
          const m = state.media[user];
          if (!p) return null;
          if (source === 'screen')
            return (
              <li key={`${p.id}/screen`} className="tile screen-tile" data-user={p.id}>
                <Video
                  stream={m?.screen}
                  muted
                  className="tile-video"
                  label={t('call.screenOf', { name: p.name })}
                  shows={{ tiles: shown, user: p.id, source: 'screen', stage }}
                  forwarded={m?.forwarded.screen ?? false}
                  placeholder={<NoPicture name={p.name} />}
                />
                <span className="tile-name">{t('call.screenOf', { name: p.name })}</span>
              </li>
            );
          const isPinned = p.id === pinnedId;
          return (
            <li
              key={p.id}
              className={`tile${p.id === speaking ? ' speaking' : ''}`}
              data-user={p.id}
            >
              <Video
                stream={m?.camera}
                className="tile-video"
                label={p.name}
                sinkId={sinkId}
                shows={{ tiles: shown, user: p.id, source: 'camera', stage }}
                forwarded={m?.forwarded.camera ?? false}
                watchFrames
                placeholder={<NoPicture name={p.name} />}
              />
              <span className="tile-name">
                {p.name}
                <TileMarks
                  owner={p.owner}
                  guest={p.guest}
                  speaking={p.id === speaking}
                  hand={p.hand !== undefined}
                />
              </span>
              <ReactionBubbles user={p.id} name={p.name} shown={state.reactions} />
              <button
                type="button"
                className={`pin${isPinned ? ' on' : ''}`}
                aria-pressed={isPinned}
                aria-label={t('group.pin', { name: p.name })}
                onClick={() => setPinnedId(isPinned ? undefined : p.id)}
              >
                {t('group.pinShort')}
              </button>
            </li>
          );
        })}
      </ul>
      {chatOpen ? (
        <ChatPanel chat={chat} className="side-panel" />
      ) : (
        <aside className="participants" aria-labelledby="participants-title">
          <h2 id="participants-title">
            {t('group.participants', { count: state.participants.length })}
          </h2>
          <div className="invite-actions">
            <InviteActions group={state.group} isPublic={isPublic} />
          </div>
          {isOwner && <OwnerControls lobby={state.lobby} groups={groups} />}
          {isOwner && <LobbyRequests knocking={state.knocking} groups={groups} />}
          <ul>
            {byHand(state.participants).map((p) => (
              <li key={p.id}>
                <span>
                  {p.id === selfId ? t('group.youNamed', { name: p.name }) : p.name}
                  {p.owner ? <span className="mark"> {t('group.owner')}</span> : null}
                  {p.guest ? <span className="mark"> {t('group.guest')}</span> : null}
                  {p.muted ? <span className="mark"> {t('group.muted')}</span> : null}
                  {p.hand !== undefined ? (
                    <span className="mark hand-mark">
                      {' '}
                      <span aria-hidden="true">✋ </span>
                      {t('group.handRaised')}
                    </span>
                  ) : null}
                </span>
                {isOwner && p.hand !== undefined && (
                  <button
                    type="button"
                    className="secondary small"
                    aria-label={t('group.lowerHand', { name: p.name })}
                    onClick={() => groups.lowerHand(p.id)}
                  >
                    {t('group.lowerHandShort')}
                  </button>
                )}
                {isOwner && p.id !== selfId && (
                  <span className="moderation">
                    {!p.muted && (
                      <button
                        type="button"
                        className="secondary small"
                        aria-label={t('group.mute', { name: p.name })}
                        onClick={() => groups.mute(p.id)}
                      >
                        {t('group.muteShort')}
                      </button>
                    )}
                    {!p.guest && (
                      <button
                        type="button"
                        className="secondary small"
                        aria-label={t('group.makeOwner', { name: p.name })}
                        onClick={() => groups.makeOwner(p.id)}
                      >
                        {t('group.makeOwnerShort')}
                      </button>
                    )}
                    <button
                      type="button"
                      className="secondary small"
                      aria-label={t('group.remove', { name: p.name })}
                      onClick={() => groups.remove(p.id)}
                    >
                      {t('group.removeShort')}
                    </button>
                  </span>
                )}
              </li>
            ))}
          </ul>
        </aside>
      )}
      {chatOpen && isOwner && (
        <LobbyRequests knocking={state.knocking} groups={groups} asNotification />
      )}
      {state.mutedBy !== undefined && (
        <p className="call-status" role="status">
          {t('group.mutedBy', { name: state.mutedBy })}
        </p>
      )}
      {state.connection === 'interrupted' && (
        <p className="call-status" role="status">
          {t('group.interrupted')}
        </p>
      )}
      {state.sharing && <SharingIndicator />}
      <CallControls
        media={media}
        onHangUp={() => groups.leave()}
        onSettings={onSettings}
        screen={{
          sharing: state.sharing,
          disabled: media.settings.audioOnly,
          toggle: () => (state.sharing ? groups.stopScreenShare() : void groups.startScreenShare()),
        }}
      >
        <RaiseHandButton up={self?.hand !== undefined} groups={groups} />
        <ReactionsMenu groups={groups} />
        <ChatButton chat={chat} />
        <button
          type="button"
          role="switch"
          aria-checked={layout === 'grid'}
          className={`switch${layout === 'grid' ? ' on' : ''}`}
          onClick={() => setLayout(layout === 'grid' ? 'speaker' : 'grid')}
        >
          {t('group.gridView')}
        </button>
      </CallControls>
    </section>
  );
}

/** The participants with raised hands first, in the order the hands went up. */
function byHand<P extends { hand?: number | undefined }>(participants: P[]): P[] {
  const up = participants
    .filter((p) => p.hand !== undefined)
    .sort((a, b) => (a.hand ?? 0) - (b.hand ?? 0));
  return [...up, ...participants.filter((p) => p.hand === undefined)];
}

/**
 * " · owner", " · guest", " · speaking", "✋ Hand raised" after a tile's name, each kept whole
 * when it wraps.
 */
function TileMarks({
  owner,
  guest,
  speaking = false,
  hand = false,
}: {
  owner: boolean;
  guest: boolean;
  speaking?: boolean;
  hand?: boolean;
}) {
  return (
    <>
      {hand && (
        <>
          {' '}
          <span className="tile-mark hand-mark">
            · <span aria-hidden="true">✋ </span>
            {t('group.handRaised')}
          </span>
        </>
      )}
      {owner && (
        <>
          {' '}
          <span className="tile-mark">· {t('group.owner')}</span>
        </>
      )}
      {guest && (
        <>
          {' '}
          <span className="tile-mark">· {t('group.guest')}</span>
        </>
      )}
      {speaking && (
        <>
          {' '}
          <span className="tile-mark speaking-mark">· {t('group.speaking')}</span>
        </>
      )}
    </>
  );
}

/**
 * What a tile shows while its video has no picture (camera off, past the last-N, paused):
 * the participant's initials, and on the stage their name too (a tile has its caption).
 * Hidden from screen readers, which read the caption and the video's label.
 */
function NoPicture({ name, withName = false }: { name: string; withName?: boolean }) {
  return (
    <div className="no-picture" aria-hidden="true">
      <span className="initials">{initialsOf(name)}</span>
      {withName && <span className="no-picture-name">{name}</span>}
    </div>
  );
}

/** An element's content box and its grid's row gap, in CSS pixels, as they change. */
function useBoxSize(ref: RefObject<HTMLElement | null>): {
  width: number;
  height: number;
  gap: number;
} {
  const [size, setSize] = useState({ width: 0, height: 0, gap: 0 });
  useEffect(() => {
    const el = ref.current;
    if (!el || typeof ResizeObserver === 'undefined') return;
    const observer = new ResizeObserver(([entry]) => {
      if (!entry) return;
      const { width, height } = entry.contentRect;
      const gap = Number.parseFloat(getComputedStyle(el).rowGap) || 0;
      setSize((old) =>
        old.width === width && old.height === height && old.gap === gap
          ? old
          : { width, height, gap },
      );
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, [ref]);
  return size;
}
