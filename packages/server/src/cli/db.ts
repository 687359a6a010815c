import { existsSync } from 'node:fs';
import path from 'node:path';
import { FatalError } from '../FatalError.js';
import { type Command, dataOptions, dataOptionsHelp, helpOption, UsageError } from './Command.js';
import { settingsFrom } from './settings.js';

/** What `db copy` moves, table by table, in the order rows were written. */
const tables = [
  {
    name: 'users',
    columns: [
      'id',
      'username',
      'display_name',
      'mail',
      'job_title',
      'password_hash',
      'search_text',
      'created_at',
      'updated_at',
    ],
  },
  {
    name: 'oidc_payloads',
    columns: ['model', 'id', 'payload', 'grant_id', 'user_code', 'uid', 'expires_at', 'consumed'],
  },
  { name: 'guests', columns: ['id', 'name', 'path', 'created_at', 'expires_at'] },
  { name: 'answered_calls', columns: ['channel', 'caller', 'callee', 'answered_at'] },
  { name: 'chat_messages', columns: ['room', 'id', 'at', 'sender', 'name', 'guest', 'text'] },
] as const;

export const dbCopy: Command = {
  name: 'db copy',
  summary: "Copy the data dir's SQLite database and generated keys to PostgreSQL",
  usage: 'db copy --to postgres://USER@HOST[:PORT]/DATABASE [--password-file FILE]',
  help: `Options:
  --to URL              the PostgreSQL database to copy into (it must hold no users, sign-ins
                        or keys yet; Confab's tables are made in it)
  --password-file FILE  the password for --to (else from the URL or PGPASSWORD, ~/.pgpass)
${dataOptionsHelp}
  -h, --help            show this help

Copies everything Confab keeps in the data dir's SQLite database (users, sign-in sessions,
grants and refresh tokens, guests, answered calls, kept chat) and the keys it generated there
(signing keys, cookie key, pair-hash key, guest request key, bridge secret), in one
transaction: all of it or nothing. Stop confab serve first, so that nothing is written to the
old database meanwhile; then set database_url (and database_password_file) and start it
again: everyone stays signed in.`,
  options: {
    ...helpOption,
    ...dataOptions,
    to: { type: 'string' },
    'password-file': { type: 'string' },
  },
  async run(values) {
    const to = values.to;
    if (typeof to !== 'string')
      throw new UsageError(
        'confab db copy: --to postgres://... is required; see confab db copy --help',
      );
    const settings = settingsFrom(values);
    const [storage, { createLogger }] = await Promise.all([
      import('../storage/index.js'),
      import('../logging/index.js'),
    ]);
    const target = {
      ...settings,
      database_url: to,
      database_password_file: undefined,
    } as typeof settings;
    const passwordFile = values['password-file'];
    if (typeof passwordFile === 'string')
      target.database_password_file = path.resolve(passwordFile);
    // The same checks as the key: a URL that is not PostgreSQL's is a usage error.
    try {
      const u = new URL(to);
      if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') throw new Error();
      if (storage.secretParams.some((p) => u.searchParams.has(p)))
        throw new UsageError(
          'confab db copy: --to: a password in the query string would be shown wherever the URL is: use --password-file or PGPASSWORD',
        );
    } catch (err) {
      if (err instanceof UsageError) throw err;
      throw new UsageError(
        `confab db copy: --to ${storage.redactedUrl(to)}: expected postgres://USER@HOST[:PORT]/DATABASE`,
      );
    }
    const file = path.join(settings.data_dir, storage.databaseFileName);
    if (!existsSync(file))
      throw new FatalError(`confab db copy: no database in ${settings.data_dir} (${file})`);
    const log = await createLogger({
      level: 'warn',
      format: settings.log_format,
      destination: process.stderr,
    });
    const source = storage.openSqlite(settings.data_dir);
    try {
      const dest = await storage.openPostgres(target, log);
      try {
        const secrets = await new storage.FileSecrets(settings.data_dir).list();
        const counts = await dest.transaction(async (tx) => {
          for (const t of [...tables.map((t) => t.name), 'secrets']) {
            const row = await tx.get<{ n: number }>(`SELECT count(*) AS n FROM ${t}`);
            if (Number(row?.n ?? 0) > 0)
              throw new FatalError(
                `confab db copy: ${storage.redactedUrl(to)} already holds ${t}; copy into an empty database`,
              );
          }
          const counts: Record<string, number> = {};
          for (const t of tables) {
            const cols = t.columns.join(', ');
            const insert = `INSERT INTO ${t.name} (${cols}) VALUES (${t.columns.map(() => '?').join(', ')})`;
            let n = 0;
            const rows = source.prepare(`SELECT ${cols} FROM ${t.name} ORDER BY rowid`).iterate();
            for (const row of rows as Iterable<Record<string, unknown>>) {
              await tx.run(
                insert,
                t.columns.map((c) => row[c]),
              );
              n++;
            }
            counts[t.name] = n;
          }
          for (const [name, value] of secrets)
            await tx.run('INSERT INTO secrets (name, value, updated_at) VALUES (?, ?, ?)', [
              name,
              value,
              Date.now(),
            ]);
          return counts;
        });
        process.stdout.write(
          `copied ${counts.users} users, ${counts.oidc_payloads} sign-in records, ${counts.guests} guests, ${counts.answered_calls} answered calls, ${counts.chat_messages} chat messages and ${secrets.size} keys to ${storage.redactedUrl(to)}\n` +
            `now set database_url: ${storage.redactedUrl(to)} (the password in database_password_file) and start confab serve\n`,
        );
      } finally {
        await dest.close();
      }
    } finally {
      await source.close();
    }
  },
};
