import assert from 'node:assert/strict';
import { test } from 'node:test';
import { announce } from './MediaBridge.js';

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
