/** RTP packets for the bridge's unit tests: a version-2 header and a payload. */
export function rtp(opts: {
  ssrc: number;
  seq: number;
  ts: number;
  pt?: number;
  marker?: boolean;
  payload?: number[];
}): Buffer {
  const b = Buffer.alloc(12 + (opts.payload?.length ?? 4));
  b[0] = 0x80;
  b[1] = ((opts.marker ? 1 : 0) << 7) | (opts.pt ?? 96);
  b.writeUInt16BE(opts.seq, 2);
  b.writeUInt32BE(opts.ts >>> 0, 4);
  b.writeUInt32BE(opts.ssrc >>> 0, 8);
  Buffer.from(opts.payload ?? [1, 2, 3, 4]).copy(b, 12);
  return b;
}

export const fields = (p: Buffer) => ({
  pt: p.readUInt8(1) & 0x7f,
  marker: (p.readUInt8(1) & 0x80) !== 0,
  seq: p.readUInt16BE(2),
  ts: p.readUInt32BE(4),
  ssrc: p.readUInt32BE(8),
});
