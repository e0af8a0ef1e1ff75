// Opens and authenticates the connection to the real database with credentials the client never sees.
// Supports trust, cleartext, md5 and SCRAM-SHA-256, and TLS with the libpq verify modes.
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from "node:crypto";
import net from "node:net";
import tls from "node:tls";
import { promisify } from "node:util";
import {
  BodyReader,
  cancelRequest,
  FrameReader,
  parseErrorFields,
  passwordMessage,
  saslInitialResponse,
  saslResponse,
  sslRequest,
  startupMessage,
  type TFrame,
} from "./wire.ts";

const pbkdf2Async = promisify(pbkdf2);

export interface TUpstreamTarget {
  host: string;
  port: number;
  database: string;
  username: string;
  password: string | null;
  tlsMode: "disable" | "require" | "verify-ca" | "verify-full";
  /** PEM CA bundle for verify-ca / verify-full; the system store when absent. */
  ca?: string | null;
}

export interface TUpstreamConnection {
  socket: net.Socket;
  parameters: [string, string][];
  backendKey: { processId: number; secretKey: number } | null;
  /** Bytes that arrived after ReadyForQuery (none in practice; kept so nothing is ever dropped). */
  leftover: Buffer[];
}

export class UpstreamError extends Error {
  constructor(
    message: string,
    readonly code = "08006",
  ) {
    super(message);
  }
}

function connectTcp(host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new UpstreamError(`timed out connecting to ${host}:${port}`));
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once("error", (error) => {
      clearTimeout(timer);
      reject(new UpstreamError(`cannot reach the database at ${host}:${port}: ${error.message}`));
    });
  });
}

function readByte(socket: net.Socket): Promise<number> {
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      cleanup();
      if (chunk.length !== 1) reject(new UpstreamError("unexpected answer to SSLRequest"));
      else resolve(chunk[0]!);
    };
    const onError = (e: Error) => {
      cleanup();
      reject(new UpstreamError(e.message));
    };
    const cleanup = () => {
      socket.off("data", onData);
      socket.off("error", onError);
    };
    socket.on("data", onData);
    socket.on("error", onError);
  });
}

async function startTls(socket: net.Socket, target: TUpstreamTarget): Promise<net.Socket> {
  socket.write(sslRequest());
  const answer = await readByte(socket);
  if (answer !== 0x53 /* S */)
    throw new UpstreamError(
      `the database at ${target.host}:${target.port} does not accept TLS (tlsMode=${target.tlsMode})`,
    );
  const verify = target.tlsMode === "verify-ca" || target.tlsMode === "verify-full";
  return new Promise((resolve, reject) => {
    const secure = tls.connect({
      socket,
      ...(target.ca ? { ca: target.ca } : {}),
      rejectUnauthorized: verify,
      servername: net.isIP(target.host) ? undefined : target.host,
      // verify-ca checks the chain but not the host name, as libpq does. verify-full names the host itself:
      // without a servername (an IP address) Node would check the certificate against "localhost".
      checkServerIdentity:
        target.tlsMode === "verify-ca"
          ? () => undefined
          : (_servername: string, cert: tls.PeerCertificate) => tls.checkServerIdentity(target.host, cert),
    });
    secure.once("secureConnect", () => resolve(secure));
    secure.once("error", (e) => reject(new UpstreamError(`TLS to the database failed: ${e.message}`)));
  });
}

/** Reads frames until `until` returns true for one; resolves with every frame read. */
class FrameQueue {
  private readonly reader = new FrameReader(64 * 1024 * 1024);
  private readonly frames: TFrame[] = [];
  private waiter: { resolve: () => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;

  constructor(private readonly socket: net.Socket) {
    socket.on("data", this.onData);
    socket.on("error", this.onError);
    socket.on("close", this.onClose);
  }

  private onData = (chunk: Buffer) => {
    try {
      this.frames.push(...this.reader.push(chunk));
    } catch (e) {
      this.failure = e as Error;
    }
    this.wake();
  };
  private onError = (e: Error) => {
    this.failure = new UpstreamError(`database connection failed: ${e.message}`);
    this.wake();
  };
  private onClose = () => {
    this.failure ??= new UpstreamError("the database closed the connection during authentication");
    this.wake();
  };
  private wake() {
    const w = this.waiter;
    this.waiter = null;
    if (!w) return;
    if (this.frames.length > 0) w.resolve();
    else if (this.failure) w.reject(this.failure);
    else this.waiter = w;
  }

  async next(): Promise<TFrame> {
    for (;;) {
      const frame = this.frames.shift();
      if (frame) return frame;
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve, reject) => (this.waiter = { resolve, reject }));
    }
  }

  detach(): Buffer[] {
    this.socket.off("data", this.onData);
    this.socket.off("error", this.onError);
    this.socket.off("close", this.onClose);
    return this.frames.map((f) => f.raw);
  }
}

function md5Password(user: string, password: string, salt: Buffer): string {
  const inner = createHash("md5")
    .update(password + user)
    .digest("hex");
  return `md5${createHash("md5")
    .update(Buffer.concat([Buffer.from(inner), salt]))
    .digest("hex")}`;
}

const hmac = (key: Buffer, data: string) => createHmac("sha256", key).update(data).digest();

async function scramSha256(queue: FrameQueue, socket: net.Socket, password: string): Promise<void> {
  const clientNonce = randomBytes(18).toString("base64");
  const clientFirstBare = `n=,r=${clientNonce}`;
  socket.write(saslInitialResponse("SCRAM-SHA-256", Buffer.from(`n,,${clientFirstBare}`)));

  const cont = await expectAuth(queue, 11);
  const serverFirst = cont.toString("utf8");
  const attrs = new Map(serverFirst.split(",").map((kv) => [kv[0], kv.slice(2)] as const));
  const nonce = attrs.get("r");
  const salt = attrs.get("s");
  const iterations = Number(attrs.get("i"));
  if (!nonce?.startsWith(clientNonce) || !salt || !Number.isInteger(iterations) || iterations < 1) {
    throw new UpstreamError("invalid SCRAM challenge from the database");
  }
  const saltedPassword = await pbkdf2Async(
    password.normalize("NFKC"),
    Buffer.from(salt, "base64"),
    iterations,
    32,
    "sha256",
  );
  const clientKey = hmac(saltedPassword, "Client Key");
  const storedKey = createHash("sha256").update(clientKey).digest();
  const withoutProof = `c=biws,r=${nonce}`;
  const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
  const signature = hmac(storedKey, authMessage);
  const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!));
  socket.write(saslResponse(Buffer.from(`${withoutProof},p=${proof.toString("base64")}`)));

  const final = (await expectAuth(queue, 12)).toString("utf8");
  const expected = hmac(hmac(saltedPassword, "Server Key"), authMessage);
  const got = Buffer.from(final.startsWith("v=") ? final.slice(2) : "", "base64");
  // The server proves it knows the password too; otherwise we may be talking to an impostor.
  if (got.length !== expected.length || !timingSafeEqual(got, expected))
    throw new UpstreamError("the database's SCRAM signature is invalid");
}

/**
 * A server that asks for the password itself ("password" in pg_hba) gets it as sent, so over a network
 * without TLS anyone on the path would read it, and a server impersonating the database need only ask.
 * The agent sends it only inside TLS or to an address on this host.
 */
function refuseCleartextInTheOpen(socket: net.Socket, target: TUpstreamTarget): void {
  if (socket instanceof tls.TLSSocket || isLoopback(socket.remoteAddress)) return;
  throw new UpstreamError(
    `the database at ${target.host}:${target.port} asks for the password in clear text over an unencrypted connection; the agent does not send it: use tlsMode require (or stricter), or scram-sha-256 on the server`,
    "28000",
  );
}

/** Whether a peer address is on this host (IPv4 127/8, also IPv4-mapped, or ::1). */
export function isLoopback(address: string | undefined): boolean {
  return !!address && (address === "::1" || address.startsWith("127.") || address.startsWith("::ffff:127."));
}

async function expectAuth(queue: FrameQueue, code: number): Promise<Buffer> {
  const frame = await queue.next();
  if (frame.type === 0x45 /* E */) throw upstreamErrorFrom(frame);
  const reader = new BodyReader(frame.raw, frame.bodyStart);
  if (frame.type !== 0x52 /* R */ || reader.int32() !== code)
    throw new UpstreamError("unexpected message during SCRAM authentication");
  return reader.bytes(reader.remaining);
}

function upstreamErrorFrom(frame: TFrame): UpstreamError {
  const fields = parseErrorFields(frame);
  return new UpstreamError(
    `database refused the connection: ${fields.get("M") ?? "unknown error"}`,
    fields.get("C") ?? "08006",
  );
}

export async function connectUpstream(
  target: TUpstreamTarget,
  extraParams: Record<string, string>,
  timeoutMs = 10_000,
): Promise<TUpstreamConnection> {
  let socket = await connectTcp(target.host, target.port, timeoutMs);
  try {
    if (target.tlsMode !== "disable") socket = await startTls(socket, target);
    const queue = new FrameQueue(socket);
    socket.write(startupMessage({ ...extraParams, user: target.username, database: target.database }));
    const deadline = setTimeout(() => socket.destroy(new Error("authentication timed out")), timeoutMs);
    try {
      const parameters: [string, string][] = [];
      let backendKey: TUpstreamConnection["backendKey"] = null;
      for (;;) {
        const frame = await queue.next();
        const reader = new BodyReader(frame.raw, frame.bodyStart);
        switch (frame.type) {
          case 0x52: {
            const code = reader.int32();
            if (code === 0) break;
            if (target.password === null)
              throw new UpstreamError(
                "the database asks for a password and none is configured for this connection",
              );
            if (code === 3) {
              refuseCleartextInTheOpen(socket, target);
              socket.write(passwordMessage(target.password));
            } else if (code === 5)
              socket.write(passwordMessage(md5Password(target.username, target.password, reader.bytes(4))));
            else if (code === 10) {
              const mechanisms: string[] = [];
              for (let m = reader.cstring(); m !== ""; m = reader.cstring()) mechanisms.push(m);
              if (!mechanisms.includes("SCRAM-SHA-256"))
                throw new UpstreamError(`unsupported SASL mechanisms: ${mechanisms.join(", ")}`);
              await scramSha256(queue, socket, target.password);
            } else throw new UpstreamError(`unsupported authentication method ${code}`);
            break;
          }
          case 0x53 /* S */:
            parameters.push([reader.cstring(), reader.cstring()]);
            break;
          case 0x4b /* K */:
            backendKey = { processId: reader.int32(), secretKey: reader.int32() };
            break;
          case 0x4e /* N */:
            break;
          case 0x45 /* E */:
            throw upstreamErrorFrom(frame);
          case 0x5a /* Z */:
            return { socket, parameters, backendKey, leftover: queue.detach() };
          default:
            throw new UpstreamError(`unexpected message 0x${frame.type.toString(16)} during authentication`);
        }
      }
    } finally {
      clearTimeout(deadline);
    }
  } catch (error) {
    socket.destroy();
    throw error instanceof UpstreamError ? error : new UpstreamError((error as Error).message);
  }
}

/** Sends a CancelRequest for an upstream backend on a fresh connection, as libpq does. */
export async function sendUpstreamCancel(
  target: TUpstreamTarget,
  key: { processId: number; secretKey: number },
): Promise<void> {
  let socket = await connectTcp(target.host, target.port, 5_000);
  if (target.tlsMode !== "disable") socket = await startTls(socket, target);
  await new Promise<void>((resolve) => {
    socket.end(cancelRequest(key.processId, key.secretKey), () => resolve());
    socket.once("error", () => resolve());
  });
  socket.destroy();
}
