import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import pino from 'pino';
import { Shutdown } from './Shutdown.js';

function recordingLogger() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n'))
        if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

const order = ['drain', 'focus', ['gateway', 'bridges'], 'database'] as const;
type Step = 'drain' | 'focus' | 'gateway' | 'bridges' | 'database';

test('steps run once, in the declared order whatever order they were bound in; steps side by side overlap', async () => {
  const { logger } = recordingLogger();
  const shutdown = new Shutdown<Step>(order, logger);
  const done: string[] = [];
  const slow = (name: string, ms: number) => async () => {
    done.push(`${name} started`);
    await new Promise((r) => setTimeout(r, ms));
    done.push(`${name} done`);
  };
  shutdown.on('database', () => done.push('database'));
  shutdown.on('gateway', slow('gateway', 30));
  shutdown.on('bridges', slow('bridges', 10));
  shutdown.on('focus', () => done.push('focus'));
  shutdown.on('drain', () => done.push('drain'));
  const first = shutdown.run();
  assert.equal(shutdown.run(), first, 'a second call gets the same shutdown');
  await first;
  assert.deepEqual(done, [
    'drain',
    'focus',
    'gateway started',
    'bridges started',
    'bridges done',
    'gateway done',
    'database',
  ]);
});

test('a startup that failed half-way: only the steps bound run', async () => {
  const { logger } = recordingLogger();
  const shutdown = new Shutdown<Step>(order, logger);
  const done: string[] = [];
  shutdown.on('database', () => done.push('database'));
  shutdown.on('drain', () => done.push('drain'));
  await shutdown.run();
  assert.deepEqual(done, ['drain', 'database']);
});

test('a failing step is logged, the others still run, and its error comes out at the end', async () => {
  const { logger, lines } = recordingLogger();
  const shutdown = new Shutdown<Step>(order, logger);
  const done: string[] = [];
  shutdown.on('focus', () => {
    throw new Error('focus broke');
  });
  shutdown.on('database', () => done.push('database'));
  await assert.rejects(shutdown.run(), /focus broke/);
  assert.deepEqual(done, ['database']);
  assert.ok(lines.some((l) => l.msg === 'shutdown step failed' && l.step === 'focus'));
});

test('binding a step twice, or after the shutdown started, is a bug', async () => {
  const { logger } = recordingLogger();
  const shutdown = new Shutdown<Step>(order, logger);
  shutdown.on('focus', () => {});
  assert.throws(() => shutdown.on('focus', () => {}), /bound twice/);
  await shutdown.run();
  assert.throws(() => shutdown.on('drain', () => {}), /after the shutdown started/);
});
