// Drivers of other languages through the agent with masking on, each used as its applications use it.
// asyncpg asks for the binary format for every type it knows, prepares every statement under a name and copies
// rows in with binary COPY; psycopg 3 binds server-side, prepares after a statement's fifth run, pipelines and
// reads DECLAREd cursors; psqlODBC (through pyodbc) wraps statements in savepoints and, as BI tools set it up,
// reads every result through a cursor; pg8000 sends a Flush right behind its password; pgjdbc (what BI tools connect with) batches inserts before one Sync, reads with a
// fetch size, asks DatabaseMetaData and cancels on a query timeout; pgx (Go) describes every statement, reads
// binary, pipelines a batch, copies in binary and cancels when a context ends. What each prints must be what it prints
// on a direct connection, but for the masked column.
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createTestDatabase } from "@portcullis/db/test-support";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  localUpstream,
  startTestProxy,
  TEST_CONNECTION,
  TEST_IDENTITY,
  TEST_TOKEN,
  type TTestProxy,
} from "./test-harness.ts";

const run = promisify(execFile);
// Debian's interpreter, where the python3-asyncpg and python3-psycopg packages install (see .ci/run).
const PYTHON = "/usr/bin/python3";
const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), "__fixtures__");
// Debian's pgjdbc (libpostgresql-jdbc-java), run by the JDK's single-file source launcher.
const PGJDBC = "/usr/share/java/postgresql.jar";

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let proxy: TTestProxy;

beforeAll(async () => {
  database = await createTestDatabase({ migrate: false });
  const setup = new pg.Client({ connectionString: database.url });
  await setup.connect();
  await setup.query(`
    create table accounts (id int primary key, name text, email text, balance numeric(12, 2), tags text[],
      created timestamptz, scores int[], meta jsonb, uid uuid, active bool, ratio float8, raw bytea);
    insert into accounts
      select g, 'name ' || g, 'person' || g || '@example.com', g * 10.25, array['a', 'b' || g],
        timestamptz '2024-05-06 07:08:09.123456+00' + g * interval '1 day 1 microsecond', array[g, -g],
        jsonb_build_object('k', g, 'nested', jsonb_build_array(g, 'x')),
        ('00000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, g % 2 = 0, g / 3.0, '\\x00ff'::bytea
      from generate_series(1, 8) g;
    create table imports (id int primary key, name text);
    create view imports_view as select * from imports;
  `);
  await setup.end();
  proxy = await startTestProxy(
    { shop: localUpstream(database.name) },
    {
      policy: {
        maskingRules: [
          {
            id: "email",
            name: "Mask emails",
            columnPattern: "accounts.email",
            detector: null,
            strategy: "partial",
            exemptIdentities: [],
            exemptGroups: [],
          },
        ],
      },
    },
  );
});

afterAll(async () => {
  await proxy?.close();
  await database?.drop();
});

async function runClient(command: string, args: string[]): Promise<string> {
  const { stdout } = await run(command, args).catch((error: Error) => {
    throw new Error(
      `${args[0]} failed (are python3-asyncpg, python3-psycopg, python3-pyodbc, odbc-postgresql, python3-pg8000, a JDK and libpostgresql-jdbc-java installed?): ${error.message}`,
    );
  });
  return stdout;
}

/** Everything as direct, but each email masked as the rule's partial strategy does (first letter, domain). */
function expectMaskedOnly(viaAgent: string, direct: string): void {
  expect(direct).toMatch(/person3@example\.com/);
  expect(viaAgent).not.toMatch(/person\d+@/);
  expect(viaAgent).toBe(direct.replace(/person\d+@example\.com/g, "p***@example.com"));
}

describe.each(["asyncpg_client.py", "psycopg_client.py", "pyodbc_client.py", "pg8000_client.py"])(
  "%s",
  (script) => {
    it("reads every type exactly as direct, and the masked column masked", async () => {
      const client = (url: string) => runClient(PYTHON, [path.join(FIXTURES, "python", script), url]);
      const before = proxy.events.length;
      expectMaskedOnly(await client(proxy.url()), await client(database.url));
      expect(proxy.events.length - before).toBeGreaterThan(3);
    });
  },
);

describe("pgx", () => {
  it("reads, pipelines a batch, copies in binary and cancels as direct, the masked column masked", async () => {
    // Built from Debian's Go and pgx v4 (golang-go, golang-github-jackc-pgx-v4-dev), in GOPATH mode.
    const dir = await mkdtemp(path.join(os.tmpdir(), "pgx-client-"));
    const binary = path.join(dir, "pgx_client");
    await run("go", ["build", "-o", binary, path.join(FIXTURES, "go", "pgx_client.go")], {
      env: {
        ...process.env,
        GO111MODULE: "off",
        GOPATH: "/usr/share/gocode",
        GOCACHE: path.join(dir, "cache"),
      },
    }).catch((error: Error) => {
      throw new Error(
        `building the pgx client failed (are golang-go and golang-github-jackc-pgx-v4-dev installed?): ${error.message}`,
      );
    });
    try {
      const viaAgent = await runClient(binary, [proxy.url()]);
      const direct = await runClient(binary, [database.url]);
      expect(direct).toContain("batch count 1\n");
      expect(direct).toContain("copied 3\n");
      expect(direct).toContain("cancelled: true true\n");
      expectMaskedOnly(viaAgent, direct);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("pgjdbc", () => {
  it("reads, batches, fetches in steps, reads the catalog and cancels as direct, the masked column masked", async () => {
    const client = (url: string, ...credentials: string[]) =>
      runClient("java", ["-cp", PGJDBC, path.join(FIXTURES, "java", "JdbcClient.java"), url, ...credentials]);
    const viaAgent = await client(
      `jdbc:postgresql://127.0.0.1:${proxy.port}/${TEST_CONNECTION}`,
      TEST_IDENTITY,
      TEST_TOKEN,
    );
    const direct = await client(`jdbc:postgresql://127.0.0.1:5432/${database.name}`, "postgres");
    expect(direct).toContain("batch 50\n");
    expect(direct).toContain("cancelled 57014 in time\n");
    expectMaskedOnly(viaAgent, direct);
  });
});
