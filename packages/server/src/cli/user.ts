import type { Settings } from '../config/index.js';
import type { SqlUserStore, User } from '../directory/index.js';
import { type Command, dataOptions, dataOptionsHelp, helpOption, UsageError } from './Command.js';
import { passwordFromStdin, promptPassword } from './password.js';
import { settingsFrom, withDatabase } from './settings.js';

/** Opens the built-in directory of the settings' database, as `confab serve` does. */
async function withStore<T>(
  settings: Settings,
  fn: (store: SqlUserStore) => Promise<T>,
): Promise<T> {
  if (settings.directory !== 'builtin') {
    throw new UsageError(
      `confab user: users come from LDAP (directory: ${settings.directory}); manage them there`,
    );
  }
  return withDatabase(settings, ({ db }) =>
    import('../directory/index.js').then(({ SqlUserStore }) => fn(new SqlUserStore(db))),
  );
}

const passwordHelp = `  --password-stdin    read the password from the first line of standard input
                      (without it, the password is asked for on the terminal)`;

export const userAdd: Command = {
  name: 'user add',
  summary: 'Add a user to the built-in directory',
  usage: 'user add USERNAME --name NAME [--email MAIL] [--job-title TITLE] [--password-stdin]',
  help: `Options:
  --name NAME         display name (required)
  --email MAIL        mail address
  --job-title TITLE   job title, shown in the address book
${passwordHelp}
${dataOptionsHelp}
  -h, --help          show this help

A running confab serve on the same data dir sees the new user at once.`,
  options: {
    ...helpOption,
    ...dataOptions,
    name: { type: 'string' },
    email: { type: 'string' },
    'job-title': { type: 'string' },
    'password-stdin': { type: 'boolean' },
  },
  positionals: ['USERNAME'],
  async run(values, [username]) {
    if (typeof values.name !== 'string')
      throw new UsageError('confab user add: --name NAME is required; see confab user add --help');
    const settings = settingsFrom(values);
    const password = values['password-stdin'] ? await passwordFromStdin() : await promptPassword();
    const user = await withStore(settings, (store) =>
      store.add({
        username: username as string,
        displayName: values.name as string,
        password,
        ...(typeof values.email === 'string' ? { mail: values.email } : {}),
        ...(typeof values['job-title'] === 'string' ? { jobTitle: values['job-title'] } : {}),
      }),
    );
    process.stdout.write(`added ${user.username} (${user.id})\n`);
  },
};

export const userList: Command = {
  name: 'user list',
  summary: 'List the users of the built-in directory',
  usage: 'user list [--json]',
  help: `Options:
  --json              one JSON array (id, username, displayName, mail, jobTitle)
${dataOptionsHelp}
  -h, --help          show this help`,
  options: { ...helpOption, ...dataOptions, json: { type: 'boolean' } },
  async run(values) {
    const users = await withStore(settingsFrom(values), async (store) => store.list());
    process.stdout.write(values.json ? `${JSON.stringify(users, null, 2)}\n` : table(users));
  },
};

function table(users: User[]): string {
  const rows = [
    ['USERNAME', 'NAME', 'MAIL', 'ID'],
    ...users.map((u) => [u.username, u.displayName, u.mail, u.id]),
  ];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return `${rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ')).join('\n')}\n`;
}

export const userRemove: Command = {
  name: 'user remove',
  summary: 'Remove a user from the built-in directory',
  usage: 'user remove USERNAME',
  help: `Options:
${dataOptionsHelp}
  -h, --help          show this help`,
  options: { ...helpOption, ...dataOptions },
  positionals: ['USERNAME'],
  async run(values, [username]) {
    await withStore(settingsFrom(values), async (store) => store.remove(username as string));
    process.stdout.write(`removed ${username}\n`);
  },
};

export const userPasswd: Command = {
  name: 'user passwd',
  summary: "Set a user's password in the built-in directory",
  usage: 'user passwd USERNAME [--password-stdin]',
  help: `Options:
${passwordHelp}
${dataOptionsHelp}
  -h, --help          show this help`,
  options: { ...helpOption, ...dataOptions, 'password-stdin': { type: 'boolean' } },
  positionals: ['USERNAME'],
  async run(values, [username]) {
    const settings = settingsFrom(values);
    const password = values['password-stdin'] ? await passwordFromStdin() : await promptPassword();
    await withStore(settings, (store) => store.setPassword(username as string, password));
    process.stdout.write(`password of ${username} changed\n`);
  },
};
