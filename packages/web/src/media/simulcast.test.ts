import assert from 'node:assert/strict';
import { test } from 'node:test';
import { layerBitrates, layersForCapture, mungeSimulcast, simulcastSsrcsOf } from './simulcast.js';

/** An answer as Chromium 156 writes it to the bridge's offer (trimmed to what matters here). */
function answer(camera: string[], screen: string[] = ['a=ssrc:7777 cname:abc']): string {
  return [
    'v=0',
    'o=- 1 2 IN IP4 127.0.0.1',
    's=-',
    't=0 0',
    'a=group:BUNDLE a v s',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111',
    'a=mid:a',
    'a=sendonly',
    'a=msid:stream mic',
    'a=rtpmap:111 opus/48000/2',
    'a=ssrc:1111 cname:abc',
    'm=video 9 UDP/TLS/RTP/SAVPF 96',
    'a=mid:v',
    'a=sendonly',
    'a=msid:stream cam',
    'a=rtpmap:96 VP8/90000',
    ...camera,
    'm=video 9 UDP/TLS/RTP/SAVPF 96',
    'a=mid:s',
    'a=sendonly',
    'a=msid:- screen',
    'a=rtpmap:96 VP8/90000',
    ...screen,
    '',
  ].join('\r\n');
}

/** SSRCs 101, 102, ... in turn. */
function counter(start = 101) {
  let n = start;
  return () => n++;
}

function section(sdp: string, mid: string): string[] {
  const parts = sdp.split('\r\n');
  const from = parts.indexOf(`a=mid:${mid}`);
  const to = parts.findIndex((l, i) => i > from && l.startsWith('m='));
  return parts.slice(from, to < 0 ? undefined : to);
}

test('one camera SSRC becomes three in a SIM group, the original first, each with its attribute lines', () => {
  const sdp = answer(['a=ssrc:5000 cname:abc', 'a=ssrc:5000 msid:stream cam']);
  const out = mungeSimulcast(sdp, 'v', undefined, counter());
  assert.deepEqual(out.ssrcs, { layers: [5000, 101, 102] });
  assert.deepEqual(section(out.sdp, 'v'), [
    'a=mid:v',
    'a=sendonly',
    'a=msid:stream cam',
    'a=rtpmap:96 VP8/90000',
    'a=ssrc-group:SIM 5000 101 102',
    'a=ssrc:5000 cname:abc',
    'a=ssrc:5000 msid:stream cam',
    'a=ssrc:101 cname:abc',
    'a=ssrc:101 msid:stream cam',
    'a=ssrc:102 cname:abc',
    'a=ssrc:102 msid:stream cam',
  ]);
  // Everything else, the screen included, is as it was; line endings too.
  assert.deepEqual(section(out.sdp, 's'), section(sdp, 's'));
  assert.deepEqual(section(out.sdp, 'a'), section(sdp, 'a'));
  assert.ok(out.sdp.endsWith('\r\n'));
  assert.equal(out.sdp.replace(/\r\n/g, '').includes('\n'), false);
  assert.deepEqual(simulcastSsrcsOf(out.sdp, 'v'), [5000, 101, 102]);
  assert.deepEqual(simulcastSsrcsOf(out.sdp, 's'), []);
});

test('with RTX each layer gets its own repair SSRC and FID group', () => {
  const sdp = answer([
    'a=ssrc-group:FID 5000 6000',
    'a=ssrc:5000 cname:abc',
    'a=ssrc:6000 cname:abc',
  ]);
  const out = mungeSimulcast(sdp, 'v', undefined, counter());
  assert.deepEqual(out.ssrcs, { layers: [5000, 101, 102], rtx: [6000, 103, 104] });
  assert.deepEqual(section(out.sdp, 'v').slice(4), [
    'a=ssrc-group:SIM 5000 101 102',
    'a=ssrc-group:FID 5000 6000',
    'a=ssrc-group:FID 101 103',
    'a=ssrc-group:FID 102 104',
    'a=ssrc:5000 cname:abc',
    'a=ssrc:6000 cname:abc',
    'a=ssrc:101 cname:abc',
    'a=ssrc:103 cname:abc',
    'a=ssrc:102 cname:abc',
    'a=ssrc:104 cname:abc',
  ]);
});

test('a later answer of the same sender names the same SSRCs; one with the SIM group already is left alone', () => {
  const first = mungeSimulcast(answer(['a=ssrc:5000 cname:abc']), 'v', undefined, counter());
  // The browser wrote the later answer without the group: the kept SSRCs come back.
  const again = mungeSimulcast(answer(['a=ssrc:5000 cname:abc']), 'v', first.ssrcs, counter(900));
  assert.deepEqual(again.ssrcs, first.ssrcs);
  assert.equal(again.sdp, first.sdp);
  // Chromium 156 repeats the group itself once the munged answer was set: unchanged, one group.
  const kept = mungeSimulcast(first.sdp, 'v', first.ssrcs, counter(900));
  assert.equal(kept.sdp, first.sdp);
  assert.deepEqual(kept.ssrcs, first.ssrcs);
  assert.equal(kept.sdp.match(/a=ssrc-group:SIM/g)?.length, 1);
  // Also without anything kept (a reload of the state): the group's own SSRCs.
  assert.deepEqual(mungeSimulcast(first.sdp, 'v').ssrcs, first.ssrcs);

  const rtx = mungeSimulcast(
    answer(['a=ssrc-group:FID 5000 6000', 'a=ssrc:5000 cname:abc', 'a=ssrc:6000 cname:abc']),
    'v',
    undefined,
    counter(),
  );
  assert.deepEqual(mungeSimulcast(rtx.sdp, 'v').ssrcs, rtx.ssrcs);
});

test('a sender with another SSRC (the browser chose anew) gets new layers, never those of the old one', () => {
  const first = mungeSimulcast(answer(['a=ssrc:5000 cname:abc']), 'v', undefined, counter());
  const other = mungeSimulcast(answer(['a=ssrc:5100 cname:abc']), 'v', first.ssrcs, counter(300));
  assert.deepEqual(other.ssrcs, { layers: [5100, 300, 301] });
});

test('no SSRC (nothing to send, or a section refused), or no such mid: unchanged', () => {
  const none = answer([]);
  assert.deepEqual(mungeSimulcast(none, 'v'), { sdp: none, ssrcs: undefined });
  const sdp = answer(['a=ssrc:5000 cname:abc']);
  assert.deepEqual(mungeSimulcast(sdp, 'x'), { sdp, ssrcs: undefined });
  assert.deepEqual(mungeSimulcast('', 'v'), { sdp: '', ssrcs: undefined });
});

test('added SSRCs never collide with one the description already names, nor are zero', () => {
  // The random source first gives taken values (the screen's, the microphone's, zero).
  const values = [7777, 1111, 0, 5000, 42, 43];
  const out = mungeSimulcast(answer(['a=ssrc:5000 cname:abc']), 'v', undefined, () => {
    const v = values.shift();
    if (v === undefined) throw new Error('ran out');
    return v;
  });
  assert.deepEqual(out.ssrcs, { layers: [5000, 42, 43] });
});

test('bare LF line endings are kept; a group of another kind stays', () => {
  const sdp = answer(['a=ssrc-group:FEC-FR 5000 5001', 'a=ssrc:5000 cname:abc']).replace(
    /\r\n/g,
    '\n',
  );
  const out = mungeSimulcast(sdp, 'v', undefined, counter());
  assert.equal(out.sdp.includes('\r'), false);
  assert.ok(out.sdp.includes('a=ssrc-group:FEC-FR 5000 5001\n'));
  assert.ok(out.sdp.includes('a=ssrc-group:SIM 5000 101 102\n'));
});

test('layers by capture size as Chromium fills them, and their caps: the top at video_max_bitrate, those under it 150 kbit/s up to 400 wide and 500 wider, never above the top', () => {
  assert.equal(layersForCapture(1280, 720), 3);
  assert.equal(layersForCapture(960, 540), 3);
  assert.equal(layersForCapture(640, 480), 2);
  assert.equal(layersForCapture(480, 270), 2);
  assert.equal(layersForCapture(320, 240), 1);
  assert.deepEqual(
    layerBitrates(3, { width: 1280, height: 720 }, 1_000_000),
    [150_000, 500_000, 1_000_000],
  );
  // 640x480: 320x240 and 640x480; the third SSRC stays silent.
  assert.deepEqual(
    layerBitrates(3, { width: 640, height: 480 }, 1_000_000),
    [150_000, 1_000_000, 1_000_000],
  );
  // 1920x1080: 480, 960 and 1920 wide.
  assert.deepEqual(
    layerBitrates(3, { width: 1920, height: 1080 }, 2_000_000),
    [500_000, 500_000, 2_000_000],
  );
  assert.deepEqual(
    layerBitrates(3, { width: 320, height: 240 }, 800_000),
    [800_000, 800_000, 800_000],
  );
  assert.deepEqual(
    layerBitrates(3, { width: 1280, height: 720 }, 300_000),
    [150_000, 300_000, 300_000],
  );
  // One encoding (the browser took no simulcast, or a screen): the cap alone.
  assert.deepEqual(layerBitrates(1, { width: 1280, height: 720 }, 1_000_000), [1_000_000]);
  assert.deepEqual(layerBitrates(3, undefined, 1_000_000), [150_000, 500_000, 1_000_000]);
});
