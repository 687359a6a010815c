import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SdpQueue } from './SdpQueue.js';

const turn = () => new Promise((r) => setImmediate(r));

test('jobs run in order, a few per turn within the budget, with the latest per key in its place', async () => {
  // A clock that only the jobs move: each takes 3 ms of a 5 ms budget.
  let clock = 0;
  const q = new SdpQueue(5, undefined, () => clock);
  const ran: string[] = [];
  const job = (name: string) => () => {
    ran.push(name);
    clock += 3;
  };
  q.add('a', job('a1'));
  q.add('b', job('b'));
  q.add('a', job('a2')); // replaces a1, in a's place
  q.add('c', job('c'));
  assert.deepEqual(ran, [], 'nothing at once');
  await turn();
  assert.deepEqual(ran, ['a2', 'b'], 'one turn stops once its budget is spent');
  await turn();
  assert.deepEqual(ran, ['a2', 'b', 'c']);
  assert.equal(q.pending, 0);
});

test('a job that throws is reported and the others run; dropped and closed queues run nothing', async () => {
  const errors: unknown[] = [];
  const q = new SdpQueue(50, (e) => errors.push(e));
  const ran: string[] = [];
  q.add('x', () => {
    throw new Error('bad sdp');
  });
  q.add('y', () => ran.push('y'));
  q.add('z', () => ran.push('z'));
  q.drop('z');
  await turn();
  assert.equal(errors.length, 1);
  assert.deepEqual(ran, ['y']);
  q.add('w', () => ran.push('w'));
  q.close();
  await turn();
  assert.deepEqual(ran, ['y'], 'closed: nothing more');
});
