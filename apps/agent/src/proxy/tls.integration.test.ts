// TLS termination at the agent: psql and node-postgres with sslmode=require (and verify-full against the
// test CA), and the rule that tokens never cross the network in clear: a client on another address must
// use TLS unless allowCleartextRemote is set.
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { networkInterfaces, tmpdir } from "node:os";
import path from "node:path";
import tls, { type TLSSocket } from "node:tls";
import { promisify } from "node:util";
import { createTestDatabase } from "@portcullis/db/test-support";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  backendMessages,
  clientUrl,
  localUpstream,
  loginBytes,
  startTestProxy,
  testCertificate,
  type TTestProxy,
} from "./test-harness.ts";
import { queryMessage } from "./wire.ts";

const run = promisify(execFile);

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let certificate: { key: string; cert: string };
let proxy: TTestProxy;
let dir: string;
let caFile: string;

// An address of this machine that is not loopback: a client connecting to it from here is seen by the
// agent with that address, exactly like a client on the network.
const remoteAddress = Object.values(networkInterfaces())
  .flat()
  .find((i) => i && i.family === "IPv4" && !i.internal)?.address;

beforeAll(async () => {
  database = await createTestDatabase({ migrate: false });
  certificate = await testCertificate();
  dir = await mkdtemp(path.join(tmpdir(), "pc-tls-"));
  caFile = path.join(dir, "ca.pem");
  await writeFile(caFile, certificate.cert);
  proxy = await startTestProxy({ shop: localUpstream(database.name) }, { tls: certificate });
});

afterAll(async () => {
  await proxy?.close();
  await database?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("TLS termination", () => {
  it("psql connects with sslmode=require and verify-full, and the session is encrypted", async () => {
    const { stdout } = await run("psql", [
      proxy.url({ query: "sslmode=require" }),
      "-c",
      "\\conninfo",
      "-tAc",
      "select 41 + 1",
    ]);
    expect(stdout).toMatch(/SSL connection \(protocol: TLSv1\.[23]/);
    expect(stdout).toContain("42");
    const verified = proxy
      .url({ query: `sslmode=verify-full&sslrootcert=${encodeURIComponent(caFile)}` })
      .replace("127.0.0.1", "localhost");
    const { stdout: ok } = await run("psql", [verified, "-tAc", "select 'verified'"]);
    expect(ok.trim()).toBe("verified");
  });

  it("node-postgres connects over TLS", async () => {
    const client = new pg.Client({ connectionString: proxy.url(), ssl: { rejectUnauthorized: false } });
    await client.connect();
    const stream = (client as unknown as { connection: { stream: TLSSocket } }).connection.stream;
    expect(stream.encrypted).toBe(true);
    expect((await client.query("select current_database() as db")).rows).toEqual([{ db: database.name }]);
    await client.end();
  });

  // libpq 17's sslnegotiation=direct starts the TLS handshake at once, without SSLRequest, and must offer
  // the "postgresql" ALPN protocol (psql here is older, so a raw TLS client plays libpq).
  it("accepts direct TLS with the postgresql ALPN, verified against the CA, and refuses it without", async () => {
    const direct = async (alpn: string[] | undefined) => {
      const socket = tls.connect({
        host: "127.0.0.1",
        port: proxy.port,
        servername: "localhost",
        ca: certificate.cert,
        ALPNProtocols: alpn,
      });
      socket.on("error", () => undefined);
      let received = Buffer.alloc(0);
      socket.on("data", (d: Buffer) => (received = Buffer.concat([received, d])));
      const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
      await Promise.race([
        new Promise<void>((resolve) => socket.once("secureConnect", () => resolve())),
        closed,
      ]);
      const alpnProtocol = socket.alpnProtocol;
      socket.write(loginBytes());
      const until = async (done: () => boolean) => {
        for (let i = 0; i < 250 && !done() && !socket.destroyed; i++)
          await new Promise((r) => setTimeout(r, 20));
      };
      const readyCount = () => backendMessages(received).filter((m) => m.type === "Z").length;
      await until(() => readyCount() >= 1);
      if (readyCount() >= 1) socket.write(queryMessage("select 'direct' as via"));
      await until(() => readyCount() >= 2);
      socket.destroy();
      await closed;
      return { alpnProtocol, messages: backendMessages(received) };
    };

    const ok = await direct(["postgresql"]);
    expect(ok.alpnProtocol).toBe("postgresql");
    const rows = ok.messages.filter((m) => m.type === "D").map((m) => m.body.toString("utf8", 6));
    expect(rows).toEqual(["direct"]);

    const refused = await direct(undefined);
    expect(refused.alpnProtocol).toBe(false);
    expect(refused.messages).toEqual([]);
  });

  it("a client that requires TLS from an agent without a certificate gets a clear refusal", async () => {
    const plain = await startTestProxy({ shop: localUpstream(database.name) });
    try {
      const error = await run("psql", [plain.url({ query: "sslmode=require" }), "-c", "select 1"]).catch(
        (e: { stderr: string }) => e,
      );
      expect((error as { stderr: string }).stderr).toMatch(/server does not support SSL/);
      // sslmode=prefer (libpq's default) falls back to cleartext on loopback.
      const { stdout } = await run("psql", [plain.url({ query: "sslmode=prefer" }), "-tAc", "select 1"]);
      expect(stdout.trim()).toBe("1");
    } finally {
      await plain.close();
    }
  });
});

describe.skipIf(!remoteAddress)("clients that are not on this machine", () => {
  it("must use TLS: cleartext is refused with 28000 before the token is sent", async () => {
    const remote = await startTestProxy(
      { shop: localUpstream(database.name) },
      { host: remoteAddress!, tls: certificate },
    );
    try {
      const url = (query: string) => clientUrl(remote.port, { query }).replace("127.0.0.1", remoteAddress!);
      const error = await run("psql", [url("sslmode=disable"), "-c", "select 1"]).catch(
        (e: { stderr: string }) => e,
      );
      expect((error as { stderr: string }).stderr).toMatch(
        /FATAL: {2}Portcullis requires TLS for clients that are not on this machine/,
      );
      const { stdout } = await run("psql", [url("sslmode=require"), "-tAc", "select 1"]);
      expect(stdout.trim()).toBe("1");
      // The agent saw the non-loopback address (what makes this test honest).
      expect(remote.events.find((e) => e.type === "session_start")?.clientAddr).toContain(remoteAddress);
    } finally {
      await remote.close();
    }
  });

  it("may use cleartext when allowCleartextRemote is set (e.g. behind a TLS-terminating load balancer)", async () => {
    const remote = await startTestProxy(
      { shop: localUpstream(database.name) },
      { host: remoteAddress!, allowCleartextRemote: true },
    );
    try {
      const url = clientUrl(remote.port, { query: "sslmode=disable" }).replace("127.0.0.1", remoteAddress!);
      const { stdout } = await run("psql", [url, "-tAc", "select 'cleartext allowed'"]);
      expect(stdout.trim()).toBe("cleartext allowed");
    } finally {
      await remote.close();
    }
  });
});
