/**
 * Copies of pending events' JSON, packed into large chunks. Why: one small Buffer per event comes from Node's
 * 8 KB pool, in the malloc heap, which a drained backlog left fragmented (the agent's RSS stayed about 40 MB
 * higher after pgbench than with the events as strings). A chunk is above glibc's mmap threshold (set by
 * bin/portcullis-agent), so it goes back to the system whole once its last event is acknowledged and
 * collected; events are acknowledged in about the order they were added, so chunks empty in order too.
 */
export class EventBytes {
  private chunk: Buffer | null = null;
  private used = 0;

  constructor(private readonly chunkBytes = 1024 * 1024) {}

  /** The UTF-8 bytes of `json`, in a chunk. */
  fromString(json: string): Buffer {
    const length = Buffer.byteLength(json);
    const at = this.reserve(length);
    if (at < 0) return Buffer.from(json);
    this.chunk!.write(json, at);
    return this.chunk!.subarray(at, at + length);
  }

  /**
   * `head`, the UTF-8 bytes of `json` (`length` of them) and `tail`, one after the other in a chunk: `whole` is
   * all three, `inner` the JSON alone. Consecutive calls land next to each other in the same chunk, so their
   * `whole` views can be written out as one range.
   */
  wrapped(head: Buffer, json: string, length: number, tail: Buffer): { whole: Buffer; inner: Buffer } {
    const total = head.length + length + tail.length;
    let at = this.reserve(total);
    let target = this.chunk!;
    if (at < 0) {
      target = Buffer.allocUnsafe(total);
      at = 0;
    }
    head.copy(target, at);
    target.write(json, at + head.length);
    tail.copy(target, at + head.length + length);
    return {
      whole: target.subarray(at, at + total),
      inner: target.subarray(at + head.length, at + head.length + length),
    };
  }

  /** A copy of `bytes`, in a chunk (so it does not keep the buffer it was read into alive). */
  fromBytes(bytes: Buffer): Buffer {
    const at = this.reserve(bytes.length);
    if (at < 0) return Buffer.from(bytes);
    bytes.copy(this.chunk!, at);
    return this.chunk!.subarray(at, at + bytes.length);
  }

  /** Where `length` bytes go in the current chunk (a new one if they do not fit); -1: too large, own buffer. */
  private reserve(length: number): number {
    if (length > this.chunkBytes / 4) return -1;
    if (this.chunk === null || this.used + length > this.chunk.length) {
      this.chunk = Buffer.allocUnsafeSlow(this.chunkBytes);
      this.used = 0;
    }
    const at = this.used;
    this.used += length;
    return at;
  }
}
