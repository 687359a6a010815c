import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseLinkOptions } from './linkOptions.js';

const at = '/meet/r/group/public/demo';

describe('room link options (#guest=1&name=…&auto=…&mute=…)', () => {
  test("Kopano Meet's example link: a guest named John Doe, joining with video, microphone off", () => {
    assert.deepEqual(parseLinkOptions('#guest=1&name=John%20Doe&auto=2&mute=1', at), {
      pathname: at,
      guest: true,
      name: 'John Doe',
      auto: 'video',
      micOff: true,
      camOff: false,
    });
  });

  test('auto=1 joins with the camera off; mute=2 and mute=3 turn the camera, then both, off', () => {
    assert.equal(parseLinkOptions('#auto=1', at)?.auto, 'audio');
    assert.deepEqual(
      [2, 3].map((m) => {
        const o = parseLinkOptions(`#mute=${m}`, at);
        return [o?.micOff, o?.camOff];
      }),
      [
        [false, true],
        [true, true],
      ],
    );
  });

  test('unknown values change nothing; guest=0 is no guest; a name is trimmed and bounded', () => {
    const o = parseLinkOptions('#guest=0&auto=9&mute=x&name=%20%20', at);
    assert.deepEqual(
      [o?.guest, o?.auto, o?.micOff, o?.camOff, o?.name],
      [false, undefined, false, false, undefined],
    );
    assert.equal(parseLinkOptions(`#name=${'n'.repeat(1000)}`, at)?.name?.length, 256);
  });

  test('a fragment without any of the options is not a link option (other anchors stay)', () => {
    assert.equal(parseLinkOptions('', at), undefined);
    assert.equal(parseLinkOptions('#main', at), undefined);
    assert.equal(parseLinkOptions('#foo=1', at), undefined);
  });
});
