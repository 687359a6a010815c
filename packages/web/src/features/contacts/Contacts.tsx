import { type AddressBookUser, addressBookPrefix } from '@confab/protocol';
import { useEffect, useId, useState } from 'react';
import { t } from '../../i18n/index.js';

export interface ContactsProps {
  selfId: string | undefined;
  tokens(): Promise<{ accessToken: string }>;
  onCall(contact: AddressBookUser, audioOnly: boolean): void;
  onClose(): void;
}

/** "Search contacts" over the address book, each result with "Call" and "Audio call". */
export function Contacts({ selfId, tokens, onCall, onClose }: ContactsProps) {
  const [query, setQuery] = useState('');
  const [results, setResults] = useState<AddressBookUser[] | undefined>();
  const headingId = useId();

  useEffect(() => {
    const abort = new AbortController();
    const timer = setTimeout(async () => {
      try {
        const { accessToken } = await tokens();
        const url = `${addressBookPrefix}/users?$top=50${query.trim() ? `&$search=${encodeURIComponent(query.trim())}` : ''}`;
        const res = await fetch(url, {
          headers: { authorization: `Bearer ${accessToken}` },
          signal: abort.signal,
        });
        if (!res.ok) return;
        const body = (await res.json()) as { value: AddressBookUser[] };
        setResults(body.value.filter((u) => u.id !== selfId));
      } catch {
        // A newer query or closing the panel aborted this one.
      }
    }, 200);
    return () => {
      clearTimeout(timer);
      abort.abort();
    };
  }, [query, selfId, tokens]);

  return (
    <section className="panel" aria-labelledby={headingId}>
      <div className="panel-head">
        <h2 id={headingId}>{t('contacts.title')}</h2>
        <button type="button" className="secondary" onClick={onClose}>
          {t('contacts.close')}
        </button>
      </div>
      <input
        type="search"
        className="search"
        aria-label={t('contacts.search')}
        placeholder={t('contacts.hint')}
        value={query}
        onChange={(e) => setQuery(e.target.value)}
        // biome-ignore lint/a11y/noAutofocus: the panel opens when the user asks for it, and goes straight to its search field, as the app's other panels do
        autoFocus
      />
      {results && results.length === 0 && <p>{t('contacts.none')}</p>}
      <ul className="contacts">
        {results?.map((c) => (
          <li key={c.id} aria-label={c.displayName}>
            <span className="contact-name">{c.displayName}</span>
            <span className="contact-mail">{c.mail || c.userPrincipalName}</span>
            <span className="contact-actions">
              <button type="button" onClick={() => onCall(c, false)}>
                {t('call.call')}
              </button>
              <button type="button" className="secondary" onClick={() => onCall(c, true)}>
                {t('call.audioCall')}
              </button>
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}
