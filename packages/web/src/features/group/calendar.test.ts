import assert from 'node:assert/strict';
import { test } from 'node:test';
import ICAL from 'ical.js';
import { meetingIcs, nextHalfHour } from './calendar.js';

test('the next full half hour: xx:30 before the half, the next hour after it', () => {
  const at = (h: number, m: number, s = 0) => new Date(2026, 11, 2, h, m, s);
  assert.deepEqual(nextHalfHour(at(9, 0)), at(9, 30));
  assert.deepEqual(nextHalfHour(at(9, 29, 59)), at(9, 30));
  assert.deepEqual(nextHalfHour(at(9, 30)), at(10, 0));
  assert.deepEqual(nextHalfHour(at(23, 45)), new Date(2026, 11, 3, 0, 0));
});

test('the .ics parses with a real iCalendar parser: one 30-minute event carrying the link', () => {
  const link = 'https://meet.example.org/meet/r/group/public/team#guest=1';
  const start = new Date(Date.UTC(2026, 11, 3, 14, 30));
  const ics = meetingIcs({ name: 'public/team', link, start });
  const root = new ICAL.Component(ICAL.parse(ics));
  assert.equal(root.name, 'vcalendar');
  assert.equal(root.getFirstPropertyValue('version'), '2.0');
  const events = root.getAllSubcomponents('vevent');
  assert.equal(events.length, 1);
  const event = new ICAL.Event(events[0]);
  assert.equal(event.startDate.toJSDate().getTime(), start.getTime());
  assert.equal(event.endDate.toJSDate().getTime() - start.getTime(), 30 * 60_000);
  assert.equal(events[0]?.getFirstPropertyValue('url'), link);
  assert.equal(event.location, link);
  assert.ok(event.description.includes(link), 'the link in the description');
  assert.ok(event.uid, 'a UID');
  assert.match(event.summary, /public\/team/);
});
