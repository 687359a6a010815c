import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from './logger.js';

function sink(isTTY = false) {
  const lines: string[] = [];
  const stream = Object.assign(
    new Writable({
      write(chunk, _enc, done) {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        done();
      },
    }),
    { isTTY },
  );
  return { stream, lines };
}

test('json format writes one JSON object a line with the module name', async () => {
  const { stream, lines } = sink();
  const log = await createLogger({ level: 'info', format: 'json', destination: stream });
  log.child({ module: 'gateway' }).info({ url: 'http://localhost:8080' }, 'ready');
  log.debug('not written at info');
  assert.equal(lines.length, 1);
  const entry = JSON.parse(lines[0] as string) as Record<string, unknown>;
  assert.equal(entry.msg, 'ready');
  assert.equal(entry.module, 'gateway');
  assert.equal(entry.level, 30);
});

test('auto format is readable on a terminal and JSON elsewhere', async () => {
  const tty = sink(true);
  await createLogger({ level: 'info', format: 'auto', destination: tty.stream }).then((l) =>
    l.info('ready'),
  );
  assert.match(tty.lines[0] as string, /INFO.*ready/);
  assert.throws(() => JSON.parse(tty.lines[0] as string));
  const pipe = sink(false);
  await createLogger({ level: 'info', format: 'auto', destination: pipe.stream }).then((l) =>
    l.info('ready'),
  );
  assert.equal((JSON.parse(pipe.lines[0] as string) as { msg: string }).msg, 'ready');
});

test('credentials never reach the log', async () => {
  const { stream, lines } = sink();
  const log = await createLogger({ level: 'info', format: 'json', destination: stream });
  log.info(
    {
      req: { headers: { authorization: 'Bearer abc.def', cookie: 's=1' } },
      user: { password: 'hunter2' },
      secret: 'x',
      token: 'y',
    },
    'request',
  );
  const text = lines.join('\n');
  for (const secret of ['abc.def', 's=1', 'hunter2', '"x"', '"y"'])
    assert.ok(!text.includes(secret), `${secret} leaked: ${text}`);
  assert.match(text, /\[redacted\]/);
});
