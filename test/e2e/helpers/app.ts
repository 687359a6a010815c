import type { Page } from 'playwright-core';
import type { ConfabProcess } from '../../support/confabProcess.js';
import { runConfab } from '../../support/confabProcess.js';
import { pollUntil } from './media.js';

/** Adds a user to the built-in directory of a running server, as an administrator would. */
export async function addUser(
  server: ConfabProcess,
  username: string,
  name: string,
  password: string,
): Promise<void> {
  const res = await runConfab(
    [
      'user',
      'add',
      username,
      '--name',
      name,
      '--email',
      `${username}@example.com`,
      '--password-stdin',
      '--data-dir',
      server.dataDir,
    ],
    { input: `${password}\n` },
  );
  if (res.code !== 0) throw new Error(`user add ${username}: ${res.stderr}`);
}

/** Opens the app and signs in through the identity provider's page, as a person would. */
export async function signIn(
  page: Page,
  username: string,
  password: string,
  name: string,
): Promise<void> {
  await page.goto('/meet/');
  await page.getByRole('textbox', { name: 'Username' }).fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: `Hello, ${name}` }).waitFor();
}

/** `from` calls `toName` from "Contacts" (`button` is "Call" or "Audio call"). */
export async function startCallFromContacts(
  from: Page,
  toName: string,
  button: 'Call' | 'Audio call' = 'Call',
): Promise<void> {
  await from.getByRole('button', { name: 'Contacts' }).click();
  await from.getByRole('searchbox', { name: 'Search contacts' }).fill(toName.split(' ')[0] ?? '');
  await from
    .getByRole('listitem', { name: toName })
    .getByRole('button', { name: button, exact: true })
    .click();
}

/** `from` calls `to` from "Contacts" and `to` presses "Accept" in the incoming call dialog. */
export async function callFromContacts(
  from: Page,
  to: Page,
  toName: string,
  button: 'Call' | 'Audio call' = 'Call',
): Promise<void> {
  await startCallFromContacts(from, toName, button);
  await to.getByRole('dialog').getByRole('button', { name: 'Accept' }).click();
}

/** "New call" → "Join or create group" → "Group name" → "Join" → the landing's "Join call". */
export async function joinGroupFromNewCall(page: Page, name: string): Promise<void> {
  await page.getByRole('button', { name: 'New call' }).click();
  await page.getByRole('button', { name: 'Join or create group' }).click();
  await page.getByRole('dialog').getByRole('textbox', { name: 'Group name' }).fill(name);
  await page.getByRole('dialog').getByRole('button', { name: 'Join', exact: true }).click();
  await page.getByRole('button', { name: 'Join call' }).click();
  await page.getByRole('region', { name: /^Group call / }).waitFor();
}

/** Opens a room's link (`/meet/r/group/<name>`) and presses "Join call". */
export async function joinGroupByLink(page: Page, room: string): Promise<void> {
  await page.goto(`/meet/r/${room}`);
  await page.getByRole('button', { name: 'Join call' }).click();
  await page.getByRole('region', { name: /^Group call / }).waitFor();
}

/** The names (with their marks) in the group call's participant list, without the buttons. */
export async function participantNames(page: Page): Promise<string[]> {
  return page
    .getByRole('complementary', { name: /^Participants/ })
    .getByRole('listitem')
    .evaluateAll((items) =>
      items.map((li) => {
        const copy = li.cloneNode(true) as HTMLElement;
        for (const b of copy.querySelectorAll('button')) b.remove();
        return (copy.textContent ?? '').replace(/\s+/g, ' ').trim();
      }),
    );
}

/**
 * Turns the in-call "Microphone" toggle on or off (the pointer moved first, so faded controls
 * show) and waits until the button says so.
 */
export async function setMicrophone(page: Page, on: boolean, who = 'the user'): Promise<void> {
  await page.mouse.move(100, 100);
  const mic = page.getByRole('button', { name: 'Microphone', exact: true });
  if ((await mic.getAttribute('aria-pressed')) !== String(on)) await mic.click();
  await pollUntil(
    () => mic.getAttribute('aria-pressed'),
    (v) => v === String(on),
    5000,
    `${who}'s microphone ${on ? 'on' : 'off'}`,
  );
}
