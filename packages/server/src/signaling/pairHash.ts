import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * kwm's pair hash: binds two users to a channel, so that only they can signal in it. HMAC-SHA256
 * over the message type, both user ids in sorted order, and the channel, with a key kept in the
 * data dir so that hashes stay valid across a restart.
 */
export class PairHash {
  constructor(private readonly key: Buffer) {}

  of(a: string, b: string, channel: string): string {
    const [x, y] = a < b ? [a, b] : [b, a];
    return createHmac('sha256', this.key).update(`webrtc\0${x}\0${y}\0${channel}`).digest('base64');
  }

  verify(hash: string, a: string, b: string, channel: string): boolean {
    const want = Buffer.from(this.of(a, b, channel));
    const got = Buffer.from(hash);
    return got.length === want.length && timingSafeEqual(got, want);
  }
}
