import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { FatalError } from '../FatalError.js';
import { UsageError } from './Command.js';

/** The first line of standard input, without its line ending; an empty one is refused. */
export async function passwordFromStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const line = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
  if (!line) throw new FatalError('confab: the password read from standard input is empty');
  return line;
}

/**
 * Asks twice on the terminal without echo; fails when there is no terminal, and when input ends
 * before an answer (rather than exiting as if all went well).
 */
export async function promptPassword(): Promise<string> {
  if (!process.stdin.isTTY)
    throw new UsageError('confab: no terminal to ask for the password on: use --password-stdin');
  let muted = false;
  const output = new Writable({
    write(chunk, _enc, done) {
      if (!muted) process.stderr.write(chunk);
      done();
    },
  });
  // One interface and a queue of lines for both questions, so a line typed ahead is kept
  // for the question after it rather than lost between the two.
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  const lines: string[] = [];
  const waiting: ((line: string | undefined) => void)[] = [];
  rl.on('line', (line) => (waiting.length ? waiting.shift()?.(line) : lines.push(line)));
  rl.once('close', () => {
    for (const w of waiting.splice(0)) w(undefined);
  });
  let ended = false;
  rl.once('close', () => {
    ended = true;
  });
  const ask = async (prompt: string): Promise<string> => {
    muted = false;
    output.write(prompt);
    muted = true;
    const line = lines.length
      ? lines.shift()
      : ended
        ? undefined
        : await new Promise<string | undefined>((resolve) => waiting.push(resolve));
    process.stderr.write('\n');
    if (line === undefined) throw new FatalError('confab: no password was entered');
    return line;
  };
  try {
    const first = await ask('Password: ');
    if (!first) throw new FatalError('confab: the password must not be empty');
    const second = await ask('Repeat password: ');
    if (first !== second) throw new FatalError('confab: the passwords do not match');
    return first;
  } finally {
    rl.close();
  }
}
