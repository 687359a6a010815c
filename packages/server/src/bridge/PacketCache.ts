/**
 * The last packets of one published stream by sequence number, to answer receivers' NACKs:
 * a fixed ring (memory bounded by `size` packets), an entry valid only while it still holds
 * that very sequence number of that SSRC.
 */
export class PacketCache {
  readonly #ring: (Buffer | undefined)[];
  readonly #mask: number;

  constructor(size = 512) {
    if (size & (size - 1)) throw new Error('the cache size is a power of two');
    this.#ring = new Array(size);
    this.#mask = size - 1;
  }

  put(packet: Buffer): void {
    this.#ring[packet.readUInt16BE(2) & this.#mask] = packet;
  }

  get(ssrc: number, seq: number): Buffer | undefined {
    const p = this.#ring[seq & this.#mask];
    return p && p.readUInt16BE(2) === seq && p.readUInt32BE(8) === ssrc ? p : undefined;
  }

  clear(): void {
    this.#ring.fill(undefined);
  }
}
