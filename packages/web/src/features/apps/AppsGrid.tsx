import type { WebConfig } from '@confab/protocol';
import { type MessageKey, t } from '../../i18n/index.js';

/** Display names of the applications Kopano's grid knows (`kopano-` prefix or not). */
const knownNames: Record<string, MessageKey> = {
  meet: 'apps.meet',
  webapp: 'apps.webapp',
  mail: 'apps.mail',
  calendar: 'apps.calendar',
  contacts: 'apps.contacts',
};

export function appName(id: string): string {
  const key = knownNames[id.replace(/^kopano-/, '')];
  return key ? t(key) : id;
}

/**
 * The applications grid (`apps.enabled`, Kopano's kpop grid): a link per application, at the
 * address the server resolved (`apps.links`). Nothing at all when none is enabled.
 */
export function AppsGrid({ apps }: { apps: WebConfig['apps'] }) {
  const entries = apps.enabled
    .map((id) => ({ id, href: apps.links?.[id] ?? '' }))
    .filter((a) => a.href !== '');
  if (entries.length === 0) return null;
  return (
    <nav className="panel apps-grid" aria-labelledby="apps-title">
      <h2 id="apps-title">{t('apps.title')}</h2>
      <ul>
        {entries.map(({ id, href }) => {
          const name = appName(id);
          return (
            <li key={id}>
              <a href={href}>
                <span className="app-icon" aria-hidden="true">
                  {name.slice(0, 1).toUpperCase()}
                </span>
                <span>{name}</span>
              </a>
            </li>
          );
        })}
      </ul>
    </nav>
  );
}
