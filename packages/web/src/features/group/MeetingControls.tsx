import { type Knock, type Reaction, reactions } from '@confab/protocol';
import { useEffect, useRef, useState } from 'react';
import type { GroupController, ShownReaction } from '../../calls/GroupController.js';
import { t } from '../../i18n/index.js';

export const reactionEmoji: Record<Reaction, string> = {
  thumbs_up: '👍',
  clap: '👏',
  laugh: '😂',
  heart: '❤️',
};

/** "Raise hand", pressed while one's hand is up. */
export function RaiseHandButton({ up, groups }: { up: boolean; groups: GroupController }) {
  return (
    <button
      type="button"
      aria-pressed={up}
      className={up ? 'toggle on' : 'toggle'}
      onClick={() => groups.raiseHand(!up)}
    >
      <span aria-hidden="true">✋ </span>
      {t('group.raiseHand')}
    </button>
  );
}

/**
 * "Reactions": a menu of "Thumbs up", "Clap", "Laugh", "Heart" (WAI-ARIA menu button: arrow
 * keys move, Escape closes and gives the focus back).
 */
export function ReactionsMenu({ groups }: { groups: GroupController }) {
  const [open, setOpen] = useState(false);
  const button = useRef<HTMLButtonElement>(null);
  const menu = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (open) menu.current?.querySelector<HTMLButtonElement>('[role="menuitem"]')?.focus();
  }, [open]);
  const close = () => {
    setOpen(false);
    button.current?.focus();
  };
  return (
    <div className="menu-button">
      <button
        ref={button}
        type="button"
        className="toggle"
        aria-haspopup="menu"
        aria-expanded={open}
        aria-controls="reactions-menu"
        onClick={() => setOpen(!open)}
      >
        {t('group.reactions')}
      </button>
      {open && (
        <div
          ref={menu}
          id="reactions-menu"
          role="menu"
          aria-label={t('group.reactions')}
          className="menu"
          onKeyDown={(e) => {
            const items = [
              ...(menu.current?.querySelectorAll<HTMLButtonElement>('[role="menuitem"]') ?? []),
            ];
            const at = items.indexOf(document.activeElement as HTMLButtonElement);
            if (e.key === 'Escape') close();
            else if (e.key === 'ArrowDown' || e.key === 'ArrowRight')
              items[(at + 1) % items.length]?.focus();
            else if (e.key === 'ArrowUp' || e.key === 'ArrowLeft')
              items[(at - 1 + items.length) % items.length]?.focus();
            else return;
            e.preventDefault();
          }}
        >
          {reactions.map((r) => (
            <button
              key={r}
              type="button"
              role="menuitem"
              onClick={() => {
                groups.react(r);
                close();
              }}
            >
              <span aria-hidden="true">{reactionEmoji[r]} </span>
              {t(`group.reaction.${r}`)}
            </button>
          ))}
        </div>
      )}
    </div>
  );
}

/** The reactions floating over one participant's tile now. */
export function ReactionBubbles({
  user,
  name,
  shown,
}: {
  user: string | undefined;
  name: string;
  shown: ShownReaction[];
}) {
  const mine = shown.filter((r) => r.user === user);
  if (mine.length === 0) return null;
  return (
    <span className="reactions" role="status">
      {mine.map((r) => (
        <span
          key={r.key}
          className="reaction"
          role="img"
          aria-label={t('group.reactionBy', { name, reaction: t(`group.reaction.${r.reaction}`) })}
        >
          {reactionEmoji[r.reaction]}
        </span>
      ))}
    </span>
  );
}

/** The owner's lobby requests: "NAME wants to join", "Admit NAME", "Deny NAME", "Admit all". */
export function LobbyRequests({
  knocking,
  groups,
  asNotification = false,
}: {
  knocking: Knock[];
  groups: GroupController;
  /** Shown over the call while the participant list is closed. */
  asNotification?: boolean;
}) {
  if (knocking.length === 0) return null;
  return (
    <section
      className={asNotification ? 'lobby-requests notification' : 'lobby-requests'}
      aria-label={t('group.lobby')}
    >
      <ul className="lobby-list">
        {knocking.map((k) => (
          <li key={k.id} className="lobby-item">
            <span role="status">
              {t('group.wantsToJoin', { name: k.name })}
              {k.guest && <span className="mark"> · {t('group.guest')}</span>}
            </span>
            <span className="moderation">
              <button
                type="button"
                className="small"
                aria-label={t('group.admit', { name: k.name })}
                onClick={() => groups.admit(k.id)}
              >
                {t('group.admitShort')}
              </button>
              <button
                type="button"
                className="secondary small"
                aria-label={t('group.deny', { name: k.name })}
                onClick={() => groups.deny(k.id)}
              >
                {t('group.denyShort')}
              </button>
            </span>
          </li>
        ))}
      </ul>
      {knocking.length > 1 && (
        <button type="button" className="small" onClick={() => groups.admitAll()}>
          {t('group.admitAll')}
        </button>
      )}
    </section>
  );
}

/** The owner's meeting controls in the participant list: "Lobby", "Mute everyone", "End meeting". */
export function OwnerControls({ lobby, groups }: { lobby: boolean; groups: GroupController }) {
  const [confirming, setConfirming] = useState(false);
  return (
    <div className="owner-controls">
      <button
        type="button"
        role="switch"
        aria-checked={lobby}
        className={`switch${lobby ? ' on' : ''}`}
        onClick={() => groups.setLobby(!lobby)}
      >
        {t('group.lobby')}
      </button>
      <button type="button" className="secondary small" onClick={() => groups.muteAll()}>
        {t('group.muteAll')}
      </button>
      {confirming ? (
        <span className="confirm">
          {t('group.endMeetingConfirm')}{' '}
          <button type="button" className="danger small" onClick={() => groups.endMeeting()}>
            {t('group.endMeeting')}
          </button>
          <button type="button" className="secondary small" onClick={() => setConfirming(false)}>
            {t('call.dismiss')}
          </button>
        </span>
      ) : (
        <button type="button" className="danger small" onClick={() => setConfirming(true)}>
          {t('group.endMeeting')}
        </button>
      )}
    </div>
  );
}
