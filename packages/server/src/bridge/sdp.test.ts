import assert from 'node:assert/strict';
import { test } from 'node:test';
import { announce, takeCandidates } from './sdp.js';

test('bridge.public_address replaces the address of host candidates, and nothing else', () => {
  const sdp = [
    'v=0',
    'o=rtc 1 0 IN IP4 127.0.0.1',
    'm=audio 10000 UDP/TLS/RTP/SAVPF 111',
    'c=IN IP4 127.0.0.1',
    'a=candidate:1 1 UDP 2114977791 10.0.0.5 10000 typ host',
    'a=candidate:2 1 UDP 1677729535 198.51.100.7 10000 typ srflx raddr 10.0.0.5 rport 10000',
    'a=mid:a',
    '',
  ].join('\r\n');
  const out = announce(sdp, '203.0.113.10');
  assert.match(out, /^a=candidate:1 1 UDP 2114977791 203\.0\.113\.10 10000 typ host$/m);
  assert.match(out, /^a=candidate:2 1 UDP 1677729535 198\.51\.100\.7 10000 typ srflx/m);
  assert.match(out, /^o=rtc 1 0 IN IP4 127\.0\.0\.1$/m);
});

test('takeCandidates: offers and answers lose their candidate lines, which come back with their mid', () => {
  const sdp = [
    'v=0',
    'o=rtc 1 0 IN IP4 127.0.0.1',
    'a=group:BUNDLE a v',
    'm=audio 10000 UDP/TLS/RTP/SAVPF 111',
    'a=candidate:1 1 UDP 2122317823 127.0.0.1 10000 typ host',
    'a=end-of-candidates',
    'a=mid:a',
    'a=fingerprint:sha-256 AA:BB',
    'm=video 9 UDP/TLS/RTP/SAVPF 96',
    'a=mid:v',
    'a=candidate:2 1 UDP 2122317567 10.0.0.5 10000 typ host',
    '',
  ].join('\r\n');
  const out = takeCandidates(sdp);
  assert.deepEqual(out.candidates, [
    ['candidate:1 1 UDP 2122317823 127.0.0.1 10000 typ host', 'a'],
    ['candidate:2 1 UDP 2122317567 10.0.0.5 10000 typ host', 'v'],
  ]);
  assert.equal(out.mid, 'a');
  assert.doesNotMatch(out.sdp, /candidate/);
  assert.match(out.sdp, /^a=fingerprint:sha-256 AA:BB\r\nm=video 9 /m);
  assert.ok(out.sdp.endsWith('a=mid:v\r\n'), 'line ends kept');
  // Without candidates (a browser's first answer), the SDP is unchanged.
  const bare = takeCandidates(out.sdp);
  assert.equal(bare.sdp, out.sdp);
  assert.deepEqual(bare.candidates, []);
  // A trickled candidate line (no "a=") is announced too.
  assert.equal(
    announce('candidate:1 1 UDP 2122317823 10.0.0.5 10000 typ host', '203.0.113.10'),
    'candidate:1 1 UDP 2122317823 203.0.113.10 10000 typ host',
  );
});
