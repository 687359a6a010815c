import { parseArgs } from 'node:util';
import {
  bridge,
  type Command,
  dbCopy,
  keysGenerate,
  keysJwkFromPem,
  keysRotate,
  serve,
  UsageError,
  userAdd,
  userList,
  userPasswd,
  userRemove,
} from './cli/index.js';
import { ConfigError } from './config/index.js';
import { FatalError } from './FatalError.js';

const commands: Command[] = [
  serve,
  bridge,
  userAdd,
  userList,
  userRemove,
  userPasswd,
  keysRotate,
  keysGenerate,
  keysJwkFromPem,
  dbCopy,
];

function commandHelp(cmd: Command): string {
  return `Usage: confab ${cmd.usage}\n\n${cmd.summary}.\n\n${cmd.help}\n`;
}

/** Help for a word that groups commands (`confab user --help`), or the whole list. */
function listHelp(prefix = ''): string {
  const shown = commands.filter((c) => c.name.startsWith(prefix));
  const width = Math.max(...shown.map((c) => c.name.length));
  const list = shown.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n');
  if (prefix)
    return `Usage: confab ${prefix.trim()} <command> [options]\n\nCommands:\n${list}\n\nconfab ${prefix}<command> --help shows a command's options.\n`;
  return `Confab: self-hosted video meetings.

Usage: confab <command> [options]

Commands:
${list}

Options:
  -h, --help     show this help (also: confab <command> --help)
  -v, --version  print the version

Docs: README.md and docs/ in the repository.
`;
}

/** The command named by the longest run of leading words. */
function findCommand(argv: string[]): {
  cmd: Command | undefined;
  rest: string[];
  words: string[];
} {
  for (let n = Math.min(2, argv.length); n > 0; n--) {
    const name = argv.slice(0, n).join(' ');
    const cmd = commands.find((c) => c.name === name);
    if (cmd) return { cmd, rest: argv.slice(n), words: argv.slice(0, n) };
  }
  return { cmd: undefined, rest: argv, words: [] };
}

async function main(argv: string[]): Promise<void> {
  const [first] = argv;
  if (first === undefined || first === '--help' || first === '-h')
    return void process.stdout.write(listHelp());
  if (first === '--version' || first === '-v') {
    const { version } = await import('./main.js');
    return void process.stdout.write(`${version}\n`);
  }
  if (first === 'help') {
    const { cmd } = findCommand(argv.slice(1));
    if (cmd) return void process.stdout.write(commandHelp(cmd));
    if (argv[1] && commands.some((c) => c.name.startsWith(`${argv[1]} `)))
      return void process.stdout.write(listHelp(`${argv[1]} `));
    if (argv[1])
      throw new UsageError(
        `confab: unknown command "${argv.slice(1).join(' ')}"; see confab --help`,
      );
    return void process.stdout.write(listHelp());
  }

  const { cmd, rest, words } = findCommand(argv);
  if (!cmd) {
    const group = commands.some((c) => c.name.startsWith(`${first} `));
    if (group && (argv.length === 1 || argv[1] === '--help' || argv[1] === '-h'))
      return void process.stdout.write(listHelp(`${first} `));
    const what = group ? `${first} ${argv[1]}` : first;
    throw new UsageError(
      `confab: unknown command "${what}"; see confab ${group ? `${first} ` : ''}--help`,
    );
  }
  const label = `confab ${words.join(' ')}`;
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: rest,
      options: cmd.options,
      strict: true,
      allowPositionals: true,
    }) as {
      values: Record<string, string | boolean | undefined>;
      positionals: string[];
    });
  } catch (err) {
    throw new UsageError(`${label}: ${(err as Error).message.split('\n')[0]}; see ${label} --help`);
  }
  if (values.help) return void process.stdout.write(commandHelp(cmd));
  const expected = cmd.positionals ?? [];
  if (positionals.length < expected.length)
    throw new UsageError(
      `${label}: ${expected[positionals.length]} is missing; see ${label} --help`,
    );
  if (positionals.length > expected.length)
    throw new UsageError(
      `${label}: unexpected argument "${positionals[expected.length]}"; see ${label} --help`,
    );
  await cmd.run(values, positionals);
}

main(process.argv.slice(2)).catch(async (err: unknown) => {
  if (err instanceof ConfigError || err instanceof FatalError || err instanceof UsageError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(err.exitCode);
  }
  // Loaded only here: a bridge, or a command that went well, never loads the LDAP client.
  const { DirectoryError } = await import('./directory/index.js');
  if (err instanceof DirectoryError) {
    process.stderr.write(`confab: ${err.message}\n`);
    process.exit(1);
  }
  process.stderr.write(
    `confab: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
