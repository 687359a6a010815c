import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ServerMessage } from '@confab/protocol';
import { MemorySignalingState } from './MemorySignalingState.js';

const info = { userId: 'u1', name: 'U One', auth: '' };

test('a connect key is taken once, and not after its 30 s', () => {
  let now = 1_000;
  const state = new MemorySignalingState(() => now);
  state.putConnectKey('k1', info, 30_000);
  state.putConnectKey('k2', info, 30_000);
  assert.deepEqual(state.takeConnectKey('k1'), info);
  assert.equal(state.takeConnectKey('k1'), undefined, 'single use');
  now += 30_001;
  assert.equal(state.takeConnectKey('k2'), undefined, 'expired');
  assert.equal(state.takeConnectKey('never'), undefined);
});

test('connections are found by user and delivered to until removed', () => {
  const state = new MemorySignalingState();
  const got: ServerMessage[] = [];
  state.addConnection({ id: 'c1', userId: 'u1', send: (m) => got.push(m) });
  state.addConnection({ id: 'c2', userId: 'u1', send: () => {} });
  assert.deepEqual(
    state.connectionsOf('u1').map((c) => c.id),
    ['c1', 'c2'],
  );
  assert.equal(state.deliver('c1', { type: 'goodbye' }), true);
  assert.deepEqual(got, [{ type: 'goodbye' }]);
  state.removeConnection('c1');
  assert.equal(state.deliver('c1', { type: 'goodbye' }), false);
  assert.deepEqual(
    state.connectionsOf('u1').map((c) => c.id),
    ['c2'],
  );
  state.removeConnection('c2');
  assert.deepEqual(state.connectionsOf('u1'), []);
  assert.equal(state.connectionCount(), 0);
});

test('calls are found by their connections, follow an answer, and go when deleted', () => {
  const state = new MemorySignalingState();
  const ringing = {
    id: '*ch',
    caller: 'u1',
    callerConn: 'c1',
    callee: 'u2',
    calleeConn: undefined,
    state: 's',
    status: 'ringing' as const,
    createdAt: 0,
  };
  state.putChannel(ringing);
  assert.deepEqual(
    state.channelsOfConnection('c1').map((c) => c.id),
    ['*ch'],
  );
  assert.deepEqual(state.channelsOfConnection('c2'), []);
  state.putChannel({ ...ringing, status: 'active', calleeConn: 'c2' });
  assert.equal(state.channelsOfConnection('c2')[0]?.status, 'active');
  assert.equal(state.channelsOfConnection('c1').length, 1);
  state.deleteChannel('*ch');
  assert.deepEqual(state.channelsOfConnection('c1'), []);
  assert.deepEqual(state.channelsOfConnection('c2'), []);
});

test('an ended channel is remembered for the given time, then forgotten', () => {
  let now = 1_000;
  const state = new MemorySignalingState(() => now);
  state.putChannel({
    id: '*c1',
    caller: 'u1',
    callerConn: 'c1',
    callee: 'u2',
    calleeConn: 'c2',
    state: 's',
    status: 'active',
    createdAt: now,
  });
  assert.equal(state.channelEnded('*c1'), false);
  state.deleteChannel('*c1', 60_000);
  assert.equal(state.getChannel('*c1'), undefined);
  assert.deepEqual(state.channelsOfConnection('c1'), []);
  assert.equal(state.channelEnded('*c1'), true);
  now += 60_001;
  assert.equal(state.channelEnded('*c1'), false);
});
