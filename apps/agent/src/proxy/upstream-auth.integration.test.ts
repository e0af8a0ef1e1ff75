// Upstream authentication against a real, private PostgreSQL started for this file (Debian's binaries, run
// as the postgres OS user on a free port): SCRAM-SHA-256, md5 and cleartext password for different roles,
// TLS to the database with tlsMode require / verify-ca / verify-full, and what the client sees when the
// connection's own credentials are wrong.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, chown, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestProxy, testCertificate, type TTestProxy, type TTestUpstream } from "./test-harness.ts";

const run = promisify(execFile);
const BIN = "/usr/lib/postgresql/15/bin";
const PASSWORD = "Upstream-S3cret!";
const available = existsSync(`${BIN}/initdb`) && process.getuid?.() === 0;

let dir: string;
let port: number;
let certificate: { key: string; cert: string };
let proxy: TTestProxy;

const asPostgres = (cmd: string, args: string[]) =>
  run("runuser", ["-u", "postgres", "--", `${BIN}/${cmd}`, ...args]);

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port: p } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return p;
}

const upstream = (username: string, overrides: Partial<TTestUpstream> = {}): TTestUpstream => ({
  host: "127.0.0.1",
  port,
  database: "postgres",
  username,
  password: PASSWORD,
  tlsMode: "disable",
  ...overrides,
});

beforeAll(async () => {
  if (!available) return;
  dir = await mkdtemp(path.join(tmpdir(), "pc-upstream-"));
  await chown(dir, ...(await postgresIds()));
  const data = path.join(dir, "data");
  port = await freePort();
  certificate = await testCertificate();
  await asPostgres("initdb", ["-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "--no-instructions"]);
  await writeFile(path.join(data, "server.key"), certificate.key, { mode: 0o600 });
  await writeFile(path.join(data, "server.crt"), certificate.cert);
  await chown(path.join(data, "server.key"), ...(await postgresIds()));
  await chown(path.join(data, "server.crt"), ...(await postgresIds()));
  await chmod(path.join(data, "server.key"), 0o600);
  // Each role gets its own method; log_connections makes the server say which one it used.
  await writeFile(
    path.join(data, "pg_hba.conf"),
    [
      "local all postgres trust",
      "host all postgres 127.0.0.1/32 trust",
      "hostssl all tls_user 127.0.0.1/32 scram-sha-256",
      "hostssl all tls_user 127.0.0.2/32 scram-sha-256",
      "hostnossl all tls_user 127.0.0.1/32 reject",
      "host all scram_user 127.0.0.1/32 scram-sha-256",
      "host all md5_user 127.0.0.1/32 md5",
      "host all plain_user 127.0.0.1/32 password",
      "",
    ].join("\n"),
  );
  await asPostgres("pg_ctl", [
    "-D",
    data,
    "-l",
    path.join(dir, "server.log"),
    "-w",
    "-t",
    "20",
    "-o",
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1,127.0.0.2 -c ssl=on -c log_connections=on -c fsync=off`,
    "start",
  ]);
  const admin = new pg.Client({ host: "127.0.0.1", port, user: "postgres", database: "postgres" });
  await admin.connect();
  // md5 only happens when the stored verifier is md5: with a SCRAM verifier the server upgrades to SCRAM.
  await admin.query(`
    set password_encryption = 'scram-sha-256';
    create role scram_user login password '${PASSWORD}';
    create role plain_user login password '${PASSWORD}';
    create role tls_user login password '${PASSWORD}';
    set password_encryption = 'md5';
    create role md5_user login password '${PASSWORD}';
  `);
  await admin.end();
  proxy = await startTestProxy({
    scram: upstream("scram_user"),
    md5: upstream("md5_user"),
    plain: upstream("plain_user"),
    wrong: upstream("scram_user", { password: "not-the-password" }),
    nopass: upstream("md5_user", { password: null }),
    tls: upstream("tls_user", { tlsMode: "require" }),
    "tls-off": upstream("tls_user"),
    // The database's CA travels in the policy snapshot, as the connection's own CA bundle.
    "verify-full": upstream("tls_user", { tlsMode: "verify-full", ca: certificate.cert }),
    "verify-ca": upstream("tls_user", { tlsMode: "verify-ca", host: "127.0.0.1", ca: certificate.cert }),
  });
}, 60_000);

afterAll(async () => {
  await proxy?.close();
  if (dir) {
    await asPostgres("pg_ctl", ["-D", path.join(dir, "data"), "-m", "immediate", "-w", "stop"]).catch(
      () => undefined,
    );
    await rm(dir, { recursive: true, force: true });
  }
});

async function postgresIds(): Promise<[number, number]> {
  const { stdout } = await run("id", ["-u", "postgres"]);
  const { stdout: gid } = await run("id", ["-g", "postgres"]);
  return [Number(stdout), Number(gid)];
}

async function whoAmI(connection: string): Promise<{ user: string; ssl: boolean }> {
  const client = new pg.Client({ connectionString: proxy.url({ connection }) });
  await client.connect();
  try {
    const { rows } = await client.query<{ user: string; ssl: boolean }>(
      "select current_user as user, coalesce((select ssl from pg_stat_ssl where pid = pg_backend_pid()), false) as ssl",
    );
    return rows[0]!;
  } finally {
    await client.end();
  }
}

async function methodsLogged(): Promise<string> {
  return readFile(path.join(dir, "server.log"), "utf8");
}

describe.skipIf(!available)("upstream authentication against a private PostgreSQL", () => {
  it("authenticates with SCRAM-SHA-256, md5 and cleartext password", async () => {
    expect(await whoAmI("scram")).toEqual({ user: "scram_user", ssl: false });
    expect(await whoAmI("md5")).toEqual({ user: "md5_user", ssl: false });
    expect(await whoAmI("plain")).toEqual({ user: "plain_user", ssl: false });
    const log = await methodsLogged();
    expect(log).toMatch(/identity="scram_user" method=scram-sha-256/);
    expect(log).toMatch(/identity="md5_user" method=md5/);
    expect(log).toMatch(/identity="plain_user" method=password/);
  });

  it("a wrong upstream password gives the client a clear FATAL that does not leak the password", async () => {
    const error = await run("psql", [proxy.url({ connection: "wrong" }), "-c", "select 1"]).catch(
      (e: { stderr: string }) => e,
    );
    const stderr = (error as { stderr: string }).stderr;
    expect(stderr).toMatch(
      /FATAL: {2}Portcullis could not connect to the database of connection "wrong": .*password authentication failed/,
    );
    expect(stderr).not.toContain("not-the-password");
    expect(stderr).not.toContain(PASSWORD);

    const missing = await run("psql", [proxy.url({ connection: "nopass" }), "-c", "select 1"]).catch(
      (e: { stderr: string }) => e,
    );
    expect((missing as { stderr: string }).stderr).toMatch(/asks for a password and none is configured/);
  });

  it("connects over TLS with tlsMode require, verify-ca and verify-full (with the database's CA)", async () => {
    expect(await whoAmI("tls")).toEqual({ user: "tls_user", ssl: true });
    expect(await whoAmI("verify-ca")).toEqual({ user: "tls_user", ssl: true });
    expect(await whoAmI("verify-full")).toEqual({ user: "tls_user", ssl: true });
    // The server rejects tls_user without TLS, so the client learns why from the database's own words.
    const error = await run("psql", [proxy.url({ connection: "tls-off" }), "-c", "select 1"]).catch(
      (e: { stderr: string }) => e,
    );
    expect((error as { stderr: string }).stderr).toMatch(/pg_hba.conf rejects connection .*no encryption/);
  });

  it("verify-full checks an IP address against the certificate's IP names, not against localhost", async () => {
    // The database's certificate names localhost and 127.0.0.1, not 127.0.0.2, where the database listens too.
    const strict = await startTestProxy({
      "other-ip": upstream("tls_user", { host: "127.0.0.2", tlsMode: "verify-full", ca: certificate.cert }),
      "other-ip-ca": upstream("tls_user", { host: "127.0.0.2", tlsMode: "verify-ca", ca: certificate.cert }),
    });
    try {
      const error = await run("psql", [strict.url({ connection: "other-ip" }), "-c", "select 1"]).catch(
        (e: { stderr: string }) => e,
      );
      expect((error as { stderr: string }).stderr).toMatch(/TLS to the database failed: .*127\.0\.0\.2/);
      // verify-ca checks the chain only, as libpq does.
      const ca = new pg.Client({ connectionString: strict.url({ connection: "other-ip-ca" }) });
      await ca.connect();
      expect((await ca.query("select 1 as ok")).rows).toEqual([{ ok: 1 }]);
      await ca.end();
    } finally {
      await strict.close();
    }
  });

  it("verify-full refuses a database whose certificate is not signed by the configured CA", async () => {
    const other = await testCertificate();
    const strict = await startTestProxy({
      "verify-full": upstream("tls_user", { tlsMode: "verify-full", ca: other.cert }),
    });
    try {
      const error = await run("psql", [strict.url({ connection: "verify-full" }), "-c", "select 1"]).catch(
        (e: { stderr: string }) => e,
      );
      expect((error as { stderr: string }).stderr).toMatch(/TLS to the database failed/);
    } finally {
      await strict.close();
    }
  });
});
