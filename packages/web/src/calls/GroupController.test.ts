import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GroupController } from './GroupController.js';

test('a member the server takes out because its media kept failing sees that, and may join again', () => {
  let id = 0;
  const groups = new GroupController({
    send: () => ++id,
    localStream: () => undefined,
    rtcConfig: () => ({}),
    videoMaxBitrate: () => 1_000_000,
    screenMaxBitrate: () => 2_500_000,
    audioOnly: () => false,
    onMutedByOwner: () => {},
  });
  groups.join('group/team');
  const failed = {
    type: 'webrtc',
    subtype: 'webrtc_channel',
    channel: '@group/team',
    group: 'group/team',
    data: { failed: { code: 'media_failed' } },
  } as const;
  assert.equal(groups.handles(failed), true);
  groups.handle(failed);
  assert.deepEqual(groups.getState(), { phase: 'failed', group: 'group/team', reason: 'media' });
});
