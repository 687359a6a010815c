import { useEffect, useRef, useState } from 'react';
import { t } from '../../i18n/index.js';
import { FormDialog } from '../common/FormDialog.js';
import { localInputValue, nextHalfHour } from './startTime.js';

/**
 * The HTML standard's "valid e-mail address" (what `<input type=email>` accepts): a local part
 * of the allowed characters, `@`, and a host name of dot-separated labels.
 */
const emailPattern =
  /^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;

/** Addresses as typed: separated by commas, semicolons, spaces or new lines. */
export function splitAddresses(text: string): string[] {
  return text.split(/[\s,;]+/).filter(Boolean);
}

export const isEmailAddress = (a: string) => a.length <= 254 && emailPattern.test(a);

/**
 * A room's link to hand on: guests may join public rooms by it (`#guest=1`; a member opening
 * it joins as themselves).
 */
export function roomLink(group: string, isPublic: boolean): string {
  return `${window.location.origin}/meet/r/${group}${isPublic ? '#guest=1' : ''}`;
}

/** The `mailto:` link of an invitation: the addresses, a subject, and the room's link. */
export function inviteMailto(addresses: string[], roomName: string, link: string): string {
  const query = new URLSearchParams({
    subject: t('invite.subject', { name: roomName }),
    body: t('invite.body', { name: roomName, link }),
  })
    .toString()
    .replaceAll('+', '%20');
  return `mailto:${addresses.map(encodeURIComponent).join(',')}?${query}`;
}

/**
 * "Invite to this group": "Email addresses", each shown with an envelope (red when it is no
 * valid address, which disables "Invite"); "Invite" hands a `mailto:` to the mail program.
 */
export function InviteDialog({
  group,
  link,
  onClose,
  onInvited,
}: {
  group: string;
  link: string;
  onClose(): void;
  onInvited(mailto: string): void;
}) {
  const [text, setText] = useState('');
  const [start, setStart] = useState(() => localInputValue(nextHalfHour()));
  const input = useRef<HTMLTextAreaElement>(null);
  useEffect(() => input.current?.focus(), []);
  const addresses = splitAddresses(text);
  const invalid = addresses.filter((a) => !isEmailAddress(a));
  const ready = addresses.length > 0 && invalid.length === 0;
  const name = group.replace(/^group\//, '');
  const submit = () => {
    const mailto = inviteMailto(addresses, name, link);
    onInvited(mailto);
    window.location.assign(mailto);
  };
  return (
    <FormDialog
      title={t('invite.title', { name })}
      submitLabel={t('invite.invite')}
      canSubmit={ready}
      onSubmit={submit}
      onClose={onClose}
    >
      <label className="field">
        <span>{t('invite.addresses')}</span>
        <textarea
          ref={input}
          rows={3}
          value={text}
          aria-invalid={invalid.length > 0}
          aria-describedby="invite-help"
          onChange={(e) => setText(e.target.value)}
        />
      </label>
      <p id="invite-help" className="hint">
        {invalid.length > 0
          ? t('invite.invalid', { addresses: invalid.join(', ') })
          : t('invite.help')}
      </p>
      {addresses.length > 0 && (
        <ul className="addresses" aria-label={t('invite.recipients')}>
          {addresses.map((a, i) => {
            const ok = isEmailAddress(a);
            return (
              // biome-ignore lint/suspicious/noArrayIndexKey: the same address may be typed twice, so the position keeps keys apart; the items hold no state to lose
              <li key={`${i}-${a}`} className={ok ? 'address' : 'address invalid'}>
                <span className="envelope" aria-hidden="true">
                  ✉
                </span>
                {a}
                {ok ? null : <span className="visually-hidden"> {t('invite.notValid')}</span>}
              </li>
            );
          })}
        </ul>
      )}
      <div className="field calendar-field">
        <label>
          <span>{t('invite.startTime')}</span>
          <input
            type="datetime-local"
            value={start}
            required
            onChange={(e) => setStart(e.target.value)}
          />
        </label>
        <button
          type="button"
          className="secondary"
          disabled={Number.isNaN(new Date(start).getTime())}
          onClick={() =>
            // The calendar library loads when it is needed, not with the app.
            void import('./calendar.js').then((c) =>
              c.downloadIcs(c.meetingIcs({ name, link, start: new Date(start) }), name),
            )
          }
        >
          {t('invite.calendar')}
        </button>
      </div>
    </FormDialog>
  );
}

/**
 * "Invite to this group" and "Share group link", with what they did said in a notice. Sharing
 * uses the Web Share API where the device has it, else copies the link to the clipboard.
 */
export function InviteActions({ group, isPublic }: { group: string; isPublic: boolean }) {
  const [open, setOpen] = useState(false);
  const [notice, setNotice] = useState<{ text: string; mailto?: string }>();
  const link = roomLink(group, isPublic);
  const name = group.replace(/^group\//, '');
  const share = async () => {
    if (typeof navigator.share === 'function') {
      try {
        await navigator.share({ title: t('invite.subject', { name }), url: link });
        return;
      } catch (err) {
        // Dismissed by the user: nothing to say. Refused otherwise: fall back to copying.
        if ((err as DOMException)?.name === 'AbortError') return;
      }
    }
    try {
      await navigator.clipboard.writeText(link);
      setNotice({ text: t('invite.copied') });
    } catch {
      setNotice({ text: t('invite.copyYourself', { link }) });
    }
  };
  return (
    <>
      <button type="button" className="secondary" onClick={() => setOpen(true)}>
        {t('invite.open')}
      </button>
      <button type="button" className="secondary" onClick={() => void share()}>
        {t('invite.share')}
      </button>
      {notice && (
        <p className="notice invite-notice" role="status">
          {notice.text} {notice.mailto && <a href={notice.mailto}>{t('invite.openMail')}</a>}
        </p>
      )}
      {open && (
        <InviteDialog
          group={group}
          link={link}
          onClose={() => setOpen(false)}
          onInvited={(mailto) => {
            setOpen(false);
            setNotice({ text: t('invite.sent'), mailto });
          }}
        />
      )}
    </>
  );
}
