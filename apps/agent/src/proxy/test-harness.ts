// Shared by the proxy's integration tests: a proxy with the real Governor and a static policy snapshot,
// either in the test process or as a separate process (for RSS and crash checks), and raw-socket helpers
// for speaking (and breaking) the wire protocol by hand.
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import net from "node:net";
import { fileURLToPath } from "node:url";
import {
  type TAuditEvent,
  type TConnectionPolicy,
  type TPolicySnapshot,
  ZAuditEvent,
} from "@portcullis/agent-protocol";
import { initParser, PRODUCTION_BASELINE } from "@portcullis/policy";
import { pino } from "pino";
import { generate } from "selfsigned";
import { Governor } from "../governor.ts";
import { startProxyServer, type TProxyServer, type TProxyServerOptions } from "./server.ts";
import type { TProxyHooks } from "./types.ts";
import type { TUpstreamTarget } from "./upstream.ts";
import { passwordMessage, startupMessage } from "./wire.ts";

export const TEST_TOKEN = "pcat_harness_token_for_dev";
export const TEST_IDENTITY = "dev@demo.local";
export const TEST_CONNECTION = "shop";

export type TTestUpstream = TUpstreamTarget;

export interface TTestPolicy {
  /** Instead of the production baseline. */
  guardrails?: TConnectionPolicy["guardrails"];
  maskingRules?: TConnectionPolicy["maskingRules"];
}

/** A connection keeps its id from one snapshot to the next, as the control plane's do. */
const connectionIds = new Map<string, string>();
let revision = 0;

export function testSnapshot(
  upstreams: Record<string, TTestUpstream>,
  policy: TTestPolicy = {},
): TPolicySnapshot {
  const idOf = (name: string) => {
    const id = connectionIds.get(name) ?? randomUUID();
    connectionIds.set(name, id);
    return id;
  };
  return {
    revision: ++revision,
    issuedAt: new Date().toISOString(),
    credentialKeys: [],
    endedSessions: [],
    maskingKey: "ab".repeat(32),
    connections: Object.entries(upstreams).map(([name, upstream]) => ({
      id: idOf(name),
      name,
      environment: "production",
      upstream: { ...upstream, ca: upstream.ca ?? null },
      credentials: [
        {
          identityId: "00000000-0000-4000-8000-000000000001",
          identityName: TEST_IDENTITY,
          identityKind: "human" as const,
          groups: [],
          tokenHash: createHash("sha256").update(TEST_TOKEN).digest("hex"),
          expiresAt: null,
        },
      ],
      grants: [],
      guardrails:
        policy.guardrails ??
        PRODUCTION_BASELINE.map((r, i) => ({
          ...r,
          id: `baseline-${i}`,
          match: r.match as Record<string, unknown>,
        })),
      maskingRules: policy.maskingRules ?? [],
    })),
  };
}

/** The upstream of the machine's own Postgres (trust auth) for one database. */
export const localUpstream = (database: string): TTestUpstream => ({
  host: "127.0.0.1",
  port: 5432,
  database,
  username: "postgres",
  password: null,
  tlsMode: "disable",
});

export function clientUrl(
  port: number,
  options: { connection?: string; password?: string; query?: string } = {},
) {
  const base = `postgresql://${encodeURIComponent(TEST_IDENTITY)}:${options.password ?? TEST_TOKEN}@127.0.0.1:${port}/${options.connection ?? TEST_CONNECTION}`;
  return options.query ? `${base}?${options.query}` : base;
}

export interface TTestProxy {
  server: TProxyServer;
  port: number;
  events: TAuditEvent[];
  url(options?: { connection?: string; password?: string; query?: string }): string;
  /** Pushes a new policy, as the control plane does when an admin changes it. */
  updatePolicy(policy: TTestPolicy): void;
  close(): Promise<void>;
}

/** A proxy in this process. `upstreams` maps connection names (what clients pass as database) to targets. */
export async function startTestProxy(
  upstreams: Record<string, TTestUpstream>,
  options: Partial<Omit<TProxyServerOptions, "hooks" | "logger">> & {
    policy?: TTestPolicy;
    /** Hooks the agent wires to other parts (an approval source, say). */
    hooks?: Pick<TProxyHooks, "requestApproval">;
  } = {},
): Promise<TTestProxy> {
  await initParser();
  const governor = new Governor();
  governor.update(testSnapshot(upstreams, options.policy));
  const events: TAuditEvent[] = [];
  const invalid: string[] = [];
  const { policy: _policy, hooks, ...serverOptions } = options;
  const server = await startProxyServer({
    host: "127.0.0.1",
    port: 0,
    logger: pino({ level: "silent" }),
    ...serverOptions,
    hooks: {
      authenticate: (r) => governor.authenticate(r),
      decide: (s, sql) => governor.decide(s, sql),
      // What the agent spools and ships is the JSON, when the session built it: check that, not the object.
      record: (e, json) => {
        const event = json === undefined ? e : (JSON.parse(json) as TAuditEvent);
        events.push(event);
        // The control plane refuses an event that does not fit its schema: that event would be lost.
        const checked = ZAuditEvent.safeParse(event);
        if (!checked.success)
          invalid.push(`${event.type} ${event.statement?.slice(0, 80)}: ${checked.error.message}`);
      },
      masking: (s) => governor.sessionMasking(s),
      prepareSession: (s) => governor.prepareSession(s),
      schemaChanged: (s) => governor.schemaChanged(s),
      schemaSettled: (s) => governor.schemaSettled(s),
      remask: (s, statement, judgedWith) => governor.remask(s, statement, judgedWith),
      ...hooks,
    },
  });
  return {
    server,
    port: server.port,
    events,
    url: (o) => clientUrl(server.port, o),
    updatePolicy: (policy) => governor.update(testSnapshot(upstreams, policy)),
    close: async () => {
      await server.close();
      // Every test file closes its proxy: an event the control plane would refuse fails it.
      if (invalid.length > 0)
        throw new Error(`audit events the control plane would refuse:\n${invalid.join("\n")}`);
    },
  };
}

export interface TProxyProcess {
  pid: number;
  port: number;
  child: ChildProcess;
  url(options?: { connection?: string; password?: string; query?: string }): string;
  /** Resident set size of the proxy process in bytes, from /proc. */
  rss(): number;
  alive(): boolean;
  stderr(): string;
  stop(): Promise<void>;
}

export interface TProxyProcessConfig {
  upstreams: Record<string, TTestUpstream>;
  handshakeTimeoutMs?: number;
  idleTimeoutMs?: number;
}

/**
 * The proxy as its own Node process (proxy-process.ts), so a test can watch its memory and see it crash,
 * instead of sharing a heap and an event loop with vitest.
 */
export async function startProxyProcess(config: TProxyProcessConfig): Promise<TProxyProcess> {
  const script = fileURLToPath(new URL("./proxy-process.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", script, JSON.stringify(config)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-20_000)));
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`proxy process did not start: ${stderr}`)), 30_000);
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const match = /^listening (\d+)$/m.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`proxy process exited (${code}): ${stderr}`));
    });
  });
  return {
    pid: child.pid!,
    port,
    child,
    url: (o) => clientUrl(port, o),
    rss() {
      const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
      const kb = /VmRSS:\s+(\d+) kB/.exec(status);
      return Number(kb?.[1] ?? 0) * 1024;
    },
    alive: () => child.exitCode === null && child.signalCode === null,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A self-signed certificate for localhost and 127.0.0.1 (its own CA, for verify-full tests). */
export async function testCertificate(): Promise<{ key: string; cert: string }> {
  const pems = await generate([{ name: "commonName", value: "localhost" }], {
    keySize: 2048,
    notAfterDate: new Date(Date.now() + 2 * 24 * 3600 * 1000),
    algorithm: "sha256",
    extensions: [
      { name: "basicConstraints", cA: true },
      {
        name: "subjectAltName",
        altNames: [
          { type: 2, value: "localhost" },
          { type: 7, ip: "127.0.0.1" },
        ],
      },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}

// ---- raw sockets ------------------------------------------------------------------------------------

/** Frontend messages built by hand, for tests that pipeline or malform them as no driver would. */
export const frontend = {
  /** type byte, int32 length (which may lie), body. */
  frame(type: string | number, body: Buffer, length = body.length + 4): Buffer {
    const head = Buffer.alloc(5);
    head[0] = typeof type === "number" ? type : type.charCodeAt(0);
    head.writeInt32BE(length | 0, 1);
    return Buffer.concat([head, body]);
  },
  cstr: (s: string) => Buffer.from(`${s}\0`),
  sync: () => frontend.frame("S", Buffer.alloc(0)),
  /** Bind without parameters, text results. */
  bind: (portal: string, statement: string) =>
    frontend.frame(
      "B",
      Buffer.concat([frontend.cstr(portal), frontend.cstr(statement), Buffer.from([0, 0, 0, 0, 0, 0])]),
    ),
  execute: (portal: string) =>
    frontend.frame("E", Buffer.concat([frontend.cstr(portal), Buffer.from([0, 0, 0, 0])])),
};

export interface TRawAnswer {
  /** Everything the agent sent. */
  bytes: Buffer;
  /** True when the agent closed the connection within the wait. */
  closed: boolean;
}

/** Connects, sends `payload` (possibly in several writes), and collects the answer until close or `waitMs`. */
export function rawExchange(port: number, payload: Buffer | Buffer[], waitMs = 3_000): Promise<TRawAnswer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(port, "127.0.0.1", () => {
      for (const p of Array.isArray(payload) ? payload : [payload]) socket.write(p);
    });
    const done = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ bytes: Buffer.concat(chunks), closed });
    };
    const timer = setTimeout(() => done(false), waitMs);
    socket.on("data", (d: Buffer) => chunks.push(d));
    socket.on("close", () => done(true));
    socket.on("error", () => undefined);
  });
}

/** Backend messages in a byte string, as [type character, body]. */
export function backendMessages(bytes: Buffer): { type: string; body: Buffer }[] {
  const out: { type: string; body: Buffer }[] = [];
  let offset = 0;
  while (offset + 5 <= bytes.length) {
    const length = bytes.readInt32BE(offset + 1);
    if (length < 4 || offset + 1 + length > bytes.length) break;
    out.push({
      type: String.fromCharCode(bytes[offset]!),
      body: bytes.subarray(offset + 5, offset + 1 + length),
    });
    offset += 1 + length;
  }
  return out;
}

/** The fields of the ErrorResponses in a byte string (S severity, C SQLSTATE, M message). */
export function errorsIn(bytes: Buffer): Record<string, string>[] {
  return backendMessages(bytes)
    .filter((m) => m.type === "E")
    .map((m) => {
      const fields: Record<string, string> = {};
      let i = 0;
      while (i < m.body.length && m.body[i] !== 0) {
        const end = m.body.indexOf(0, i + 1);
        fields[String.fromCharCode(m.body[i]!)] = m.body.toString("utf8", i + 1, end);
        i = end + 1;
      }
      return fields;
    });
}

/** The bytes a libpq client sends to log in through the agent as the test identity. */
export function loginBytes(connection = TEST_CONNECTION): Buffer {
  return Buffer.concat([
    startupMessage({ user: TEST_IDENTITY, database: connection }),
    passwordMessage(TEST_TOKEN),
  ]);
}

/** An authenticated raw session: resolves once the agent sent ReadyForQuery after login. */
export async function rawSession(port: number, connection = TEST_CONNECTION) {
  const socket = net.connect(port, "127.0.0.1");
  socket.on("error", () => undefined);
  let received = Buffer.alloc(0);
  let closed = false;
  socket.on("data", (d: Buffer) => (received = Buffer.concat([received, d])));
  socket.on("close", () => (closed = true));
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => {
      socket.write(startupMessage({ user: TEST_IDENTITY, database: connection }));
      // The password goes after the agent asked for it, as libpq does.
      const ask = () => {
        if (received.length >= 9) {
          socket.off("data", ask);
          socket.write(passwordMessage(TEST_TOKEN));
        }
      };
      socket.on("data", ask);
    });
    const poll = setInterval(() => {
      if (backendMessages(received).some((m) => m.type === "Z")) {
        clearInterval(poll);
        received = Buffer.alloc(0);
        resolve();
      } else if (closed) {
        clearInterval(poll);
        reject(new Error(`login failed: ${received.toString("latin1")}`));
      }
    }, 5);
  });
  /** Collects what arrives until `count` messages of `type` have (or `ms` pass). */
  const until = async (type: string, count = 1, ms = 3_000): Promise<Buffer> => {
    let bytes = Buffer.alloc(0);
    const deadline = Date.now() + ms;
    for (;;) {
      bytes = Buffer.concat([bytes, received]);
      received = Buffer.alloc(0);
      if (backendMessages(bytes).filter((m) => m.type === type).length >= count || Date.now() > deadline)
        return bytes;
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  return {
    socket,
    /** Bytes received since login (or since the last take()). */
    take() {
      const r = received;
      received = Buffer.alloc(0);
      return r;
    },
    get closed() {
      return closed;
    },
    until,
    /** Sends `messages` in one packet and collects the answers up to ReadyForQuery. */
    exchange(...messages: Buffer[]): Promise<Buffer> {
      socket.write(Buffer.concat(messages));
      return until("Z");
    },
    /** Waits until the agent closes the connection (or `ms` pass); returns whether it did and what it sent. */
    async untilClosed(ms = 3_000): Promise<TRawAnswer> {
      const deadline = Date.now() + ms;
      while (!closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      const bytes = received;
      received = Buffer.alloc(0);
      socket.destroy();
      return { bytes, closed };
    },
  };
}
