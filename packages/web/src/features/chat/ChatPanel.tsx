import { chatMaxLength } from '@confab/protocol';
import { useEffect, useRef, useState, useSyncExternalStore } from 'react';
import type { ChatController, ChatLine } from '../../calls/ChatController.js';
import { t } from '../../i18n/index.js';
import { linkify } from './linkify.js';

/** "Chat" in a call's controls: opens and closes the panel, with the unread count. */
export function ChatButton({ chat }: { chat: ChatController }) {
  const state = useSyncExternalStore(chat.subscribe, chat.getState);
  return (
    <button
      type="button"
      className={`toggle chat-button${state.open ? ' on' : ''}`}
      aria-expanded={state.open}
      aria-controls="chat-panel"
      aria-label={t('chat.open')}
      aria-describedby={state.unread > 0 ? 'chat-unread' : undefined}
      onClick={() => chat.setOpen(!state.open)}
    >
      {t('chat.open')}
      {state.unread > 0 && (
        <span id="chat-unread" className="badge">
          <span aria-hidden="true">{state.unread}</span>
          <span className="visually-hidden">{t('chat.unread', { count: state.unread })}</span>
        </span>
      )}
    </button>
  );
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

/**
 * The chat panel: the messages (author, guest mark, time; text with web links, never markup),
 * "Message" and "Send". Enter sends, Shift+Enter starts a new line.
 */
export function ChatPanel({ chat, className = '' }: { chat: ChatController; className?: string }) {
  const state = useSyncExternalStore(chat.subscribe, chat.getState);
  const [draft, setDraft] = useState('');
  const list = useRef<HTMLOListElement>(null);
  const input = useRef<HTMLTextAreaElement>(null);
  useEffect(() => input.current?.focus(), []);
  // The latest message in view as it comes.
  const count = state.lines.length;
  useEffect(() => {
    if (count && list.current) list.current.scrollTop = list.current.scrollHeight;
  }, [count]);
  const send = () => {
    if (chat.send(draft)) setDraft('');
  };
  return (
    <section id="chat-panel" className={`chat-panel ${className}`} aria-labelledby="chat-title">
      <header>
        <h2 id="chat-title" className="chat-title">
          {t('chat.title')}
        </h2>
        <button
          type="button"
          className="secondary small"
          aria-label={t('chat.close')}
          onClick={() => chat.setOpen(false)}
        >
          ×
        </button>
      </header>
      {count === 0 ? (
        <p className="hint">{t('chat.empty')}</p>
      ) : (
        <ol ref={list} className="chat-lines" aria-live="polite">
          {state.lines.map((line) => (
            <ChatEntry key={line.id} line={line} />
          ))}
        </ol>
      )}
      {state.failed && (
        <p className="notice" role="alert">
          {t(`chat.failed.${state.failed}`)}
        </p>
      )}
      <form
        className="chat-form"
        onSubmit={(e) => {
          e.preventDefault();
          send();
        }}
      >
        <textarea
          ref={input}
          aria-label={t('chat.message')}
          value={draft}
          rows={2}
          maxLength={chatMaxLength * 2}
          onChange={(e) => setDraft(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
              e.preventDefault();
              send();
            }
          }}
        />
        <button type="submit" disabled={draft.trim() === ''}>
          {t('chat.send')}
        </button>
      </form>
    </section>
  );
}

function ChatEntry({ line }: { line: ChatLine }) {
  return (
    <li className={line.self ? 'chat-line self' : 'chat-line'}>
      <span className="chat-author">
        {line.self ? t('chat.you') : line.name}
        {line.guest && <span className="mark"> · {t('chat.guest')}</span>}
      </span>{' '}
      <time dateTime={new Date(line.at).toISOString()}>{timeFormat.format(line.at)}</time>
      <p className="chat-text">
        {linkify(line.text).map((part, i) =>
          'href' in part ? (
            // biome-ignore lint/suspicious/noArrayIndexKey: the parts of one message never move
            <a key={i} href={part.href} target="_blank" rel="noopener noreferrer nofollow">
              {part.text}
            </a>
          ) : (
            // biome-ignore lint/suspicious/noArrayIndexKey: the parts of one message never move
            <span key={i}>{part.text}</span>
          ),
        )}
      </p>
    </li>
  );
}
