import assert from 'node:assert/strict';
import { test } from 'node:test';
import { announce, simulcastGroups, takeCandidates } from './sdp.js';

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

test('simulcast groups are read per mid, lowest first; bad ones are ignored', () => {
  const section = (mid: string, ...lines: string[]) =>
    [`m=video 9 UDP/TLS/RTP/SAVPF 96`, `a=mid:${mid}`, ...lines].join('\r\n');
  const sdp = [
    'v=0',
    section('a'),
    section('v', 'a=ssrc:11 cname:x', 'a=ssrc-group:SIM 11 22 33', 'a=ssrc-group:SIM 44 55'),
    section('s', 'a=ssrc-group:SIM 1 2 3 4'),
    section('f0', 'a=ssrc-group:SIM 7 7'),
    section('f1', 'a=ssrc-group:SIM 1 x'),
    section('f2', 'a=ssrc-group:SIM 5 4294967296'),
    section('f3', 'a=ssrc-group:FID 5 6'),
    section('f4', 'a=ssrc-group:SIM 8 9'),
  ].join('\r\n');
  assert.deepEqual(
    [...simulcastGroups(sdp)],
    [
      ['v', [11, 22, 33]],
      ['f4', [8, 9]],
    ],
    'the first group of a section; four layers, repeats, junk and FID groups are none',
  );
  assert.deepEqual([...simulcastGroups('garbage')], []);
});
