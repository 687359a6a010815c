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

/** Asks twice on the terminal without echo; fails when there is no terminal. */
export async function promptPassword(): Promise<string> {
  if (!process.stdin.isTTY)
    throw new UsageError('confab: no terminal to ask for the password on: use --password-stdin');
  const first = await askHidden('Password: ');
  if (!first) throw new FatalError('confab: the password must not be empty');
  const second = await askHidden('Repeat password: ');
  if (first !== second) throw new FatalError('confab: the passwords do not match');
  return first;
}

function askHidden(prompt: string): Promise<string> {
  let muted = false;
  const output = new Writable({
    write(chunk, _enc, done) {
      if (!muted) process.stderr.write(chunk);
      done();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  return new Promise((resolve) => {
    rl.question(prompt, (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    });
    muted = true;
  });
}
