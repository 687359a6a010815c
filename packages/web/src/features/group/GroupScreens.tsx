import { roomNameMaxLength, roomNamePattern } from '@confab/protocol';
import { useEffect, useMemo, useRef, useState } from 'react';
import { navigate } from '../../app/router.js';
import type { GroupController, GroupState } from '../../calls/GroupController.js';
import { t } from '../../i18n/index.js';
import type { LocalMedia } from '../../media/useLocalMedia.js';
import { CallControls, MediaToggles, SharingIndicator } from '../call/CallControls.js';
import { LocalPreview } from '../call/LocalPreview.js';
import { Video } from '../call/Video.js';
import { FormDialog } from '../common/FormDialog.js';
import { InviteActions } from './Invite.js';
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
  return (
    <section className="group-landing" aria-labelledby="group-title">
      <h1 id="group-title">{t('group.title', { name: group.replace(/^group\//, '') })}</h1>
      {failed && (
        <p className="notice" role="alert">
          {t(`group.failed.${failed.reason}`, { name: failed.message ?? '' })}
        </p>
      )}
      <LocalPreview media={media} />
      <div className="main-actions">
        <MediaToggles media={media} />
        <button type="button" onClick={onJoin}>
          {t('group.joinCall')}
        </button>
      </div>
      <div className="main-actions">
        <InviteActions group={group} isPublic={isPublic} />
      </div>
    </section>
  );
}

/** A guest who came before the host: held by the server, joined when the host starts the room. */
export function GroupWaiting({
  group,
  media,
  onLeave,
}: {
  group: string;
  media: LocalMedia;
  onLeave(): void;
}) {
  const name = group.replace(/^group\//, '');
  return (
    <section className="group-landing" aria-labelledby="waiting-title">
      <h1 id="waiting-title">{t('group.waiting')}</h1>
      <p role="status">{t('group.waitingLead', { name })}</p>
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

/**
 * In a group call: a tile per participant (name, owner mark, "Pin NAME"), the stage large with
 * the tiles in a strip under it, the participant list, and the call controls. The stage shows,
 * on this screen only, the pinned participant (their screen while they share one), else a
 * shared screen, else the latest dominant speaker with a camera. What is shown, and how large,
 * goes to the bridge (`GroupController.setView`), which sends each video at the layer that fits
 * and nothing for a tile out of sight.
 */
export function GroupCall({
  state,
  isPublic,
  selfId,
  media,
  groups,
  onSettings,
}: {
  state: Extract<GroupState, { phase: 'joining' | 'joined' }>;
  isPublic: boolean;
  selfId: string | undefined;
  media: LocalMedia;
  groups: GroupController;
  onSettings(): void;
}) {
  const sinkId = media.settings.speakerId ?? '';
  const [pinnedId, setPinnedId] = useState<string>();
  const shown = useMemo(() => new ShownTiles((view) => groups.setView(view)), [groups]);
  useEffect(
    () => () => {
      shown.disconnect();
      groups.setView({});
    },
    [shown, groups],
  );
  const others = state.participants.filter((p) => p.id !== selfId);
  const self = state.participants.find((p) => p.id === selfId);
  const pinned = others.find((p) => p.id === pinnedId);
  const sharer = others.find((p) => state.media[p.id]?.screen);
  // The latest dominant speaker other than oneself (muted on stage: its tile plays it).
  const speaking = state.speakers[0];
  const speaker = state.speakers
    .map((id) => others.find((p) => p.id === id))
    .find((p) => p && state.media[p.id]?.camera);
  const staged = pinned ?? sharer ?? speaker;
  const stagedMedia = staged ? state.media[staged.id] : undefined;
  const stageSource = stagedMedia?.screen ? 'screen' : 'camera';
  // Screens not on the stage (someone else is pinned, or a second sharer) get a tile.
  const screensInStrip = others.filter(
    (p) => state.media[p.id]?.screen && !(p === staged && stageSource === 'screen'),
  );
  const name = state.group.replace(/^group\//, '');
  const isOwner = !!self?.owner;
  return (
    <section
      className={`group-call${staged ? ' with-screen' : ''}`}
      aria-label={t('group.inCall', { name })}
    >
      {staged && (
        <Video
          key={`${staged.id}/${stageSource}`}
          stream={stageSource === 'screen' ? stagedMedia?.screen : stagedMedia?.camera}
          muted
          className={`group-screen${stageSource === 'camera' ? ' group-stage' : ''}`}
          label={
            stageSource === 'screen'
              ? t('call.screenOf', { name: staged.name })
              : staged === pinned
                ? t('group.stagePinned', { name: staged.name })
                : t('group.stage', { name: staged.name })
          }
          shows={{ tiles: shown, user: staged.id, source: stageSource, stage: true }}
        />
      )}
      <ul className="tiles" aria-label={t('group.tiles')}>
        <li className="tile self">
          <Video
            stream={media.stream}
            muted
            mirrored
            className="tile-video"
            label={t('main.preview')}
          />
          <span className="tile-name">
            {t('group.you')}
            <TileMarks owner={!!self?.owner} guest={false} />
          </span>
        </li>
        {others.map((p) => (
          <li key={p.id} className={`tile${p.id === speaking ? ' speaking' : ''}`} data-user={p.id}>
            <Video
              stream={state.media[p.id]?.camera}
              className="tile-video"
              label={p.name}
              sinkId={sinkId}
              shows={{ tiles: shown, user: p.id, source: 'camera' }}
            />
            <span className="tile-name">
              {p.name}
              <TileMarks owner={p.owner} guest={p.guest} />
            </span>
            <button
              type="button"
              className={`pin${p === pinned ? ' on' : ''}`}
              aria-pressed={p === pinned}
              aria-label={t('group.pin', { name: p.name })}
              onClick={() => setPinnedId(p === pinned ? undefined : p.id)}
            >
              {t('group.pinShort')}
            </button>
          </li>
        ))}
        {screensInStrip.map((p) => (
          <li key={`${p.id}/screen`} className="tile screen-tile" data-user={p.id}>
            <Video
              stream={state.media[p.id]?.screen}
              muted
              className="tile-video"
              label={t('call.screenOf', { name: p.name })}
              shows={{ tiles: shown, user: p.id, source: 'screen' }}
            />
            <span className="tile-name">{t('call.screenOf', { name: p.name })}</span>
          </li>
        ))}
      </ul>
      <aside className="participants" aria-labelledby="participants-title">
        <h2 id="participants-title">
          {t('group.participants', { count: state.participants.length })}
        </h2>
        <div className="invite-actions">
          <InviteActions group={state.group} isPublic={isPublic} />
        </div>
        <ul>
          {state.participants.map((p) => (
            <li key={p.id}>
              <span>
                {p.id === selfId ? t('group.youNamed', { name: p.name }) : p.name}
                {p.owner ? <span className="mark"> {t('group.owner')}</span> : null}
                {p.guest ? <span className="mark"> {t('group.guest')}</span> : null}
                {p.muted ? <span className="mark"> {t('group.muted')}</span> : null}
              </span>
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
      />
    </section>
  );
}

/** " · owner", " · guest" after a tile's name, each kept whole when a long caption wraps. */
function TileMarks({ owner, guest }: { owner: boolean; guest: boolean }) {
  return (
    <>
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
    </>
  );
}
