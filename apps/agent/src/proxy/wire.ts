// Postgres protocol v3 framing and the few message codecs the agent needs. pg-protocol's Parser reads only
// backend messages and decodes rows eagerly (see STACK-FACTS.md), so the agent frames both directions itself
// and forwards raw slices; only what a decision needs is decoded.
import { isUtf8 } from "node:buffer";

export const PROTOCOL_3_0 = 196_608;
export const SSL_REQUEST_CODE = 80_877_103;
export const GSSENC_REQUEST_CODE = 80_877_104;
export const CANCEL_REQUEST_CODE = 80_877_102;

/** Largest message accepted from a client. Postgres itself caps most messages at 1 GB; a proxy should not buffer that. */
export const MAX_CLIENT_MESSAGE = 64 * 1024 * 1024;
export const MAX_STARTUP_PACKET = 10_000;

export class ProtocolError extends Error {}

export interface TFrame {
  type: number;
  /** The whole message including type byte and length. */
  raw: Buffer;
  /** Offset of the body within raw (5). */
  bodyStart: number;
}

/**
 * Splits a byte stream into typed messages (1 type byte + int32 length including itself).
 * Returns complete frames and keeps the incomplete tail for the next chunk.
 */
export class FrameReader {
  /** Chunks of an incomplete message, joined once when it is complete (not on every chunk: that is quadratic). */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Total size of the incomplete message once its header has arrived. */
  private needed = 0;

  constructor(private readonly maxMessage: number) {}

  /** Bytes of an unfinished message are waiting for the rest. */
  get hasPartial(): boolean {
    return this.pendingBytes > 0;
  }

  /** Appends a chunk and returns the complete frames it finishes. Throws ProtocolError on a bad length. */
  push(chunk: Buffer): TFrame[] {
    const data = this.feed(chunk);
    if (!data) return [];
    const frames: TFrame[] = [];
    let offset = 0;
    for (let end = this.frameEnd(data, offset); end > 0; end = this.frameEnd(data, offset)) {
      frames.push({ type: data[offset]!, raw: data.subarray(offset, end), bodyStart: 5 });
      offset = end;
    }
    this.keep(data, offset);
    return frames;
  }

  /**
   * The allocation-free form of push(), for streams of many small messages (result rows): feed() a chunk,
   * walk the returned buffer with frameEnd() from offset 0, then keep() the unfinished rest. Returns null
   * while no message is complete yet.
   */
  feed(chunk: Buffer): Buffer | null {
    if (this.pendingBytes === 0) return chunk;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.needed === 0 && this.pendingBytes >= 5) {
      const head = Buffer.concat(this.pending, this.pendingBytes);
      this.pending = [head];
      this.needed = 1 + this.checkedLength(head, 0);
    }
    if (this.needed === 0 || this.pendingBytes < this.needed) return null;
    const data = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    this.needed = 0;
    return data;
  }

  /** End of the complete message that starts at `offset`, or -1 when it is not all there. */
  frameEnd(data: Buffer, offset: number): number {
    if (data.length - offset < 5) return -1;
    const end = offset + 1 + this.checkedLength(data, offset);
    return end <= data.length ? end : -1;
  }

  /** Keeps the bytes from `offset` on (an unfinished message) for the next feed(). */
  keep(data: Buffer, offset: number): void {
    if (offset >= data.length) return;
    // Copy the tail: it must not pin the (possibly large) buffer it came in.
    const tail = Buffer.from(data.subarray(offset));
    this.pending = [tail];
    this.pendingBytes = tail.length;
    this.needed = tail.length >= 5 ? 1 + this.checkedLength(tail, 0) : 0;
  }

  private checkedLength(data: Buffer, offset: number): number {
    const length = data.readInt32BE(offset + 1);
    if (length < 4 || length > this.maxMessage) {
      throw new ProtocolError(
        `invalid message length ${length} for message type 0x${data[offset]!.toString(16)}`,
      );
    }
    return length;
  }

  get buffered(): number {
    return this.pendingBytes;
  }
}

/** Reads NUL-terminated strings from a message body. */
export class BodyReader {
  constructor(
    private readonly buf: Buffer,
    public offset: number,
  ) {}

  /**
   * A NUL-terminated string: UTF-8 when it is valid UTF-8, else one character per byte. Decoding invalid bytes
   * as UTF-8 would turn different bytes into the same U+FFFD: in another client_encoding (LATIN1's é and è),
   * two dollar-quote tags the server tells apart would look alike to the statement analysis, and two statement
   * names would look like one. Byte per character keeps different bytes different and ASCII as it is, which is
   * all the analysis needs of text in an ASCII-safe encoding.
   */
  cstring(): string {
    const end = this.buf.indexOf(0, this.offset);
    if (end < 0) throw new ProtocolError("unterminated string in message");
    const bytes = this.buf.subarray(this.offset, end);
    const value = isUtf8(bytes) ? bytes.toString("utf8") : bytes.toString("latin1");
    this.offset = end + 1;
    return value;
  }

  int32(): number {
    if (this.offset + 4 > this.buf.length) throw new ProtocolError("message too short");
    const v = this.buf.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  int16(): number {
    if (this.offset + 2 > this.buf.length) throw new ProtocolError("message too short");
    const v = this.buf.readInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  byte(): number {
    if (this.offset + 1 > this.buf.length) throw new ProtocolError("message too short");
    return this.buf[this.offset++]!;
  }

  bytes(n: number): Buffer {
    if (n < 0 || this.offset + n > this.buf.length) throw new ProtocolError("message too short");
    const v = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }

  skip(n: number): void {
    if (n < 0 || this.offset + n > this.buf.length) throw new ProtocolError("message too short");
    this.offset += n;
  }

  get remaining(): number {
    return this.buf.length - this.offset;
  }
}

export function parseStartupParams(packet: Buffer): Map<string, string> {
  // packet: int32 length, int32 protocol, then name\0value\0 ... \0
  const reader = new BodyReader(packet, 8);
  const params = new Map<string, string>();
  while (reader.remaining > 1) {
    const name = reader.cstring();
    if (name === "") break;
    params.set(name, reader.cstring());
  }
  return params;
}

// ---- builders ---------------------------------------------------------------------------------------

function message(type: string, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = type.charCodeAt(0);
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}

function cstr(value: string): Buffer {
  return Buffer.from(`${value}\0`, "utf8");
}

function int32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeInt32BE(n);
  return b;
}

export function startupMessage(params: Record<string, string>): Buffer {
  const parts: Buffer[] = [int32(PROTOCOL_3_0)];
  for (const [k, v] of Object.entries(params)) parts.push(cstr(k), cstr(v));
  parts.push(Buffer.from([0]));
  const body = Buffer.concat(parts);
  return Buffer.concat([int32(body.length + 4), body]);
}

export function sslRequest(): Buffer {
  return Buffer.concat([int32(8), int32(SSL_REQUEST_CODE)]);
}

export function cancelRequest(processId: number, secretKey: number): Buffer {
  return Buffer.concat([int32(16), int32(CANCEL_REQUEST_CODE), int32(processId), int32(secretKey)]);
}

export const passwordMessage = (password: string) => message("p", cstr(password));
export const saslInitialResponse = (mechanism: string, data: Buffer) =>
  message("p", Buffer.concat([cstr(mechanism), int32(data.length), data]));
export const saslResponse = (data: Buffer) => message("p", data);
export const queryMessage = (sql: string) => message("Q", cstr(sql));
export const terminateMessage = () => message("X", Buffer.alloc(0));

export const authenticationOk = () => message("R", int32(0));
export const authenticationCleartextPassword = () => message("R", int32(3));
export const parameterStatus = (name: string, value: string) =>
  message("S", Buffer.concat([cstr(name), cstr(value)]));
export const backendKeyData = (processId: number, secretKey: number) =>
  message("K", Buffer.concat([int32(processId), int32(secretKey)]));
export const readyForQuery = (status: string) => message("Z", Buffer.from(status, "latin1"));
/** The protocol version the server will speak, and the `_pq_.` options of the startup packet it ignores. */
export const negotiateProtocolVersion = (version: number, unrecognized: string[]) =>
  message("v", Buffer.concat([int32(version), int32(unrecognized.length), ...unrecognized.map(cstr)]));

export interface TNoticeFields {
  severity: "ERROR" | "FATAL" | "NOTICE" | "WARNING" | "INFO";
  code: string;
  message: string;
  detail?: string;
  hint?: string;
}

function fieldsBody(f: TNoticeFields): Buffer {
  const parts = [
    Buffer.from("S"),
    cstr(f.severity),
    Buffer.from("V"),
    cstr(f.severity),
    Buffer.from("C"),
    cstr(f.code),
    Buffer.from("M"),
    cstr(f.message),
  ];
  if (f.detail) parts.push(Buffer.from("D"), cstr(f.detail));
  if (f.hint) parts.push(Buffer.from("H"), cstr(f.hint));
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

export const errorResponse = (f: TNoticeFields) => message("E", fieldsBody(f));
export const noticeResponse = (f: TNoticeFields) => message("N", fieldsBody(f));

/** A Parse message: a blocked statement's rewrite (text certain to fail parsing upstream, see session.ts),
 * or a statement of the agent's own (inlineQueryMessages). */
export function parseMessage(name: string, sql: string, paramTypes: number[] = []): Buffer {
  const types = Buffer.allocUnsafe(2 + paramTypes.length * 4);
  types.writeInt16BE(paramTypes.length, 0);
  paramTypes.forEach((t, i) => types.writeInt32BE(t, 2 + i * 4));
  return message("P", Buffer.concat([cstr(name), cstr(sql), types]));
}

/** A Bind of `statement` to `portal` without parameters or result formats: a refused Bind's rewrite. */
export function bindMessage(portal: string, statement: string): Buffer {
  return message("B", Buffer.concat([cstr(portal), cstr(statement), Buffer.alloc(6)]));
}

/** An Execute of `portal`, all rows: a refused Execute's rewrite (of a portal that does not exist). */
export const executeMessage = (portal: string) => message("E", Buffer.concat([cstr(portal), int32(0)]));

/** Flush: the server sends what it has answered so far, without ending the batch. */
export const flushMessage = () => message("H", Buffer.alloc(0));

/** CopyFail: the server fails the COPY FROM STDIN it is reading data for. */
export const copyFailMessage = (reason: string) => message("f", cstr(reason));

/**
 * An extended-protocol query the agent runs itself, in the middle of a client's batch: Parse, Bind and Execute
 * on a statement and portal of its own name (so the client's unnamed ones are untouched), both closed again,
 * then Flush so the answer comes before the batch's Sync. Answered by ParseComplete, BindComplete, the rows,
 * CommandComplete and two CloseComplete.
 */
export function inlineQueryMessages(name: string, sql: string): Buffer {
  const noFormatsNoParams = Buffer.alloc(6);
  return Buffer.concat([
    parseMessage(name, sql),
    message("B", Buffer.concat([cstr(name), cstr(name), noFormatsNoParams])),
    message("E", Buffer.concat([cstr(name), int32(0)])),
    message("C", Buffer.concat([Buffer.from("P"), cstr(name)])),
    message("C", Buffer.concat([Buffer.from("S"), cstr(name)])),
    message("H", Buffer.alloc(0)),
  ]);
}

/** Fields of an ErrorResponse/NoticeResponse body, keyed by field type character. */
export function parseErrorFields(frame: TFrame): Map<string, string> {
  const reader = new BodyReader(frame.raw, frame.bodyStart);
  const fields = new Map<string, string>();
  while (reader.remaining > 0) {
    const code = reader.byte();
    if (code === 0) break;
    fields.set(String.fromCharCode(code), reader.cstring());
  }
  return fields;
}

/** Rows affected or returned, from a CommandComplete tag ("SELECT 5", "INSERT 0 3", "UPDATE 2"). */
export function rowsFromCommandTag(tag: string): number | null {
  const match = /(\d+)$/.exec(tag);
  return match ? Number(match[1]) : null;
}
