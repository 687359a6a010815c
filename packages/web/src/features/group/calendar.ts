import ical from 'ical-generator';
import { t } from '../../i18n/index.js';

export { localInputValue, nextHalfHour } from './startTime.js';

/** How long the meeting an invite's calendar entry books. */
export const meetingMinutes = 30;

/**
 * An iCalendar file (RFC 5545) with one event: the meeting in room `name` from `start` for
 * `meetingMinutes`, its link as the event's URL, location and in its description.
 */
export function meetingIcs(f: { name: string; link: string; start: Date; now?: Date }): string {
  const calendar = ical({ prodId: { company: 'Confab', product: 'Confab', language: 'EN' } });
  calendar.createEvent({
    start: f.start,
    end: new Date(f.start.getTime() + meetingMinutes * 60_000),
    stamp: f.now ?? new Date(),
    summary: t('invite.calendarTitle', { name: f.name }),
    description: t('invite.body', { name: f.name, link: f.link }),
    location: f.link,
    url: f.link,
  });
  return calendar.toString();
}

/** Hands `ics` to the browser as a download named after the room. */
export function downloadIcs(ics: string, name: string): void {
  const url = URL.createObjectURL(new Blob([ics], { type: 'text/calendar;charset=utf-8' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = `${name.replace(/[^a-z0-9._-]+/gi, '-') || 'meeting'}.ics`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
