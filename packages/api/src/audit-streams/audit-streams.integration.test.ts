// Audit streams end to end below the browser: the tRPC router configures them on a real store, and the
// forwarder POSTs the timeline to a real HTTP receiver that can refuse, stall or redirect.
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { appendAuditEvents, createDb, deriveSecretKey, type TDb } from "@portcullis/db";
import { createTestDatabase, newAuditEvent } from "@portcullis/db/test-support";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { ZAuditEventDto } from "../audit/schemas.ts";
import { handleRest } from "../rest.ts";
import { webhookSignature } from "../notifications/notifier.ts";
import { apiCaller, refusal, seedApiTestStore, TEST_TOKENS } from "../test-support.ts";
import { createAuditStreamForwarder, type TAuditStreamForwarder } from "./forwarder.ts";
import { auditStreamsRest } from "./rest.ts";

interface TReceived {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  lines: Record<string, unknown>[];
}

/** A collector on loopback: records every POST and answers as `respond` says (200 unless told). */
class Receiver {
  received: TReceived[] = [];
  respond: (req: TReceived) => { status: number; body?: string; stallMs?: number; location?: string } =
    () => ({
      status: 200,
    });
  private server: Server | null = null;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        const got: TReceived = {
          path: req.url ?? "",
          headers: req.headers,
          body,
          lines: body
            .split("\n")
            .filter(Boolean)
            .map((l) => JSON.parse(l) as Record<string, unknown>),
        };
        const answer = this.respond(got);
        const send = () => {
          if (res.destroyed) return;
          res.writeHead(answer.status, answer.location ? { location: answer.location } : {});
          res.end(answer.body ?? "");
        };
        if (answer.status >= 200 && answer.status < 300) this.received.push(got);
        if (answer.stallMs) setTimeout(send, answer.stallMs).unref();
        else send();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
  }

  url(path = "/ingest"): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}${path}`;
  }

  /** Every event line accepted so far, in the order received. */
  events(): Record<string, unknown>[] {
    return this.received.flatMap((r) => r.lines);
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

const secretKey = deriveSecretKey("audit-streams-test-secret-key");
const SIGNING_SECRET = "whsec-for-the-collector-0123456789";
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let db: TDb;
let receiver: Receiver;
const forwarders: TAuditStreamForwarder[] = [];

const admin = () => apiCaller(db, TEST_TOKENS.admin, secretKey);

function forwarder(
  options: {
    holder?: string;
    batchSize?: number;
    timeoutMs?: number;
    maxBatchBytes?: number;
    allowedHosts?: string[];
  } = {},
) {
  const f = createAuditStreamForwarder({ db, secretKey, batchSize: 200, ...options });
  forwarders.push(f);
  return f;
}

/** Runs passes until nothing more waits; returns how many events went out. */
async function drain(f: TAuditStreamForwarder): Promise<number> {
  let total = 0;
  for (let pass = 0; pass < 50; pass += 1) {
    const { delivered, more } = await f.runOnce();
    total += delivered;
    if (!more) return total;
  }
  throw new Error("the forwarder never caught up");
}

async function streamNamed(name: string) {
  return (await admin().auditStreams.list()).find((s) => s.name === name)!;
}

beforeAll(async () => {
  database = await createTestDatabase();
  db = createDb(database.url, { poolMax: 4 });
  await seedApiTestStore(db, { guardrails: [], maskingRules: [] });
  receiver = new Receiver();
  await receiver.start();
});

afterAll(async () => {
  await Promise.all(forwarders.map((f) => f.close()));
  await receiver?.stop();
  await db?.$disconnect();
  await database?.drop();
});

beforeEach(async () => {
  receiver.received = [];
  receiver.respond = () => ({ status: 200 });
  // Each test configures its own streams.
  for (const stream of await admin().auditStreams.list())
    await admin().auditStreams.remove({ id: stream.id });
});

describe("audit streams", () => {
  it("sends every event after the stream's start, once, in order, signed and with its Authorization", async () => {
    await appendAuditEvents(db, [newAuditEvent({ statement: "select 'before the stream'" })]);
    const created = await admin().auditStreams.create({
      name: "siem",
      url: receiver.url(),
      format: "jsonl",
      signingSecret: SIGNING_SECRET,
      authorization: "Splunk 1234-abcd",
    });
    expect(created).toMatchObject({ status: "delivering", signed: true, hasAuthorization: true });
    // The secrets are write-only: not in the DTO, and encrypted in the store.
    expect(JSON.stringify(await admin().auditStreams.list())).not.toMatch(/whsec|Splunk 1234/);
    const stored = await db.auditStream.findUniqueOrThrow({ where: { id: created.id } });
    expect(`${stored.signingSecret}${stored.authorization}`).not.toMatch(/whsec|Splunk/);

    const statements = Array.from({ length: 450 }, (_, i) => `select ${i}`);
    await appendAuditEvents(
      db,
      statements.map((statement) => newAuditEvent({ statement })),
    );
    expect(await drain(forwarder())).toBe(451); // the stream's own creation, then the 450

    const events = receiver.events();
    expect(events.map((e) => e.statement ?? e.message)).toEqual([
      expect.stringMatching(/^created audit stream "siem" to http:\/\/127\.0\.0\.1:\d+\/ingest$/),
      ...statements,
    ]);
    expect(events.every((e) => ZAuditEventDto.safeParse(e).success)).toBe(true);
    const seqs = events.map((e) => BigInt(e.seq as string));
    expect(seqs.every((seq, i) => i === 0 || seq > seqs[i - 1]!)).toBe(true);
    expect(receiver.received.length).toBe(3); // batches of 200

    for (const request of receiver.received) {
      expect(request.headers["content-type"]).toBe("application/x-ndjson");
      expect(request.headers.authorization).toBe("Splunk 1234-abcd");
      expect(request.headers["x-portcullis-stream"]).toBe("siem");
      const first = request.lines[0]!.seq as string;
      const last = request.lines[request.lines.length - 1]!.seq as string;
      expect(request.headers["x-portcullis-seq"]).toBe(`${first}-${last}`);
      // What a receiver does to trust the body.
      const [t, v1] = String(request.headers["x-portcullis-signature"]).split(",");
      expect(v1).toBe(`v1=${webhookSignature(SIGNING_SECRET, Number(t!.slice(2)), request.body)}`);
    }
    const listed = await streamNamed("siem");
    expect(listed).toMatchObject({ deliveredCount: 451, pending: 0, failures: 0, status: "delivering" });
    expect(listed.lastDeliveredAt).not.toBeNull();

    // Caught up: a further pass sends nothing, and does not even touch the stream's row.
    receiver.received = [];
    const idle = await db.auditStream.findUniqueOrThrow({ where: { id: created.id } });
    expect(await drain(forwarder())).toBe(0);
    expect(receiver.received).toEqual([]);
    expect(await db.auditStream.findUniqueOrThrow({ where: { id: created.id } })).toEqual(idle);
  });

  it("keeps the cursor when the receiver refuses, backs off, and sends the same events again", async () => {
    const stream = await admin().auditStreams.create({ name: "flaky", url: receiver.url(), format: "jsonl" });
    const f = forwarder();
    await drain(f); // its own creation event
    receiver.received = [];
    await appendAuditEvents(
      db,
      Array.from({ length: 5 }, (_, i) => newAuditEvent({ statement: `update t set n = ${i}` })),
    );
    receiver.respond = () => ({ status: 503, body: "collector busy" });
    expect((await f.runOnce()).delivered).toBe(0);
    const failing = await streamNamed("flaky");
    expect(failing).toMatchObject({ status: "failing", failures: 1, pending: 5 });
    expect(failing.lastError).toBe("HTTP 503: collector busy");
    expect(new Date(failing.nextAttemptAt).getTime()).toBeGreaterThan(Date.now());

    // Not due yet: the next pass leaves it alone, even with the receiver back.
    receiver.respond = () => ({ status: 200 });
    expect((await f.runOnce()).delivered).toBe(0);
    expect(receiver.received).toEqual([]);

    // Resuming retries at once; the same five arrive, nothing lost.
    await admin().auditStreams.setEnabled({ id: stream.id, enabled: false });
    await admin().auditStreams.setEnabled({ id: stream.id, enabled: true });
    expect(await drain(f)).toBe(5 + 2); // and the pause and the resume themselves
    expect(receiver.events().map((e) => e.statement ?? e.message)).toEqual([
      ...Array.from({ length: 5 }, (_, i) => `update t set n = ${i}`),
      'paused audit stream "flaky"',
      'enabled audit stream "flaky"',
    ]);
    expect(await streamNamed("flaky")).toMatchObject({ status: "delivering", failures: 0, pending: 0 });
  });

  it("treats a stalled receiver and a redirect as failures, and a paused stream as silent", async () => {
    const stream = await admin().auditStreams.create({ name: "slow", url: receiver.url(), format: "jsonl" });
    receiver.respond = () => ({ status: 200, stallMs: 2000 });
    expect((await forwarder({ timeoutMs: 300 }).runOnce()).delivered).toBe(0);
    expect((await streamNamed("slow")).lastError).toBe("no answer within 300 ms");

    await admin().auditStreams.setEnabled({ id: stream.id, enabled: true }); // due again
    receiver.respond = () => ({ status: 302, location: "http://127.0.0.1:1/elsewhere" });
    expect((await forwarder().runOnce()).delivered).toBe(0);
    expect((await streamNamed("slow")).lastError).toBe("HTTP 302");

    await admin().auditStreams.setEnabled({ id: stream.id, enabled: false });
    receiver.respond = () => ({ status: 200 });
    receiver.received = [];
    expect(await drain(forwarder())).toBe(0);
    expect(receiver.received).toEqual([]);
    expect((await streamNamed("slow")).status).toBe("disabled");
  });

  it("never sends unsigned when the stream's secret cannot be decrypted", async () => {
    await admin().auditStreams.create({
      name: "rekeyed",
      url: receiver.url(),
      format: "jsonl",
      signingSecret: SIGNING_SECRET,
    });
    const otherKey = createAuditStreamForwarder({ db, secretKey: deriveSecretKey("a-different-secret-key") });
    forwarders.push(otherKey);
    expect((await otherKey.runOnce()).delivered).toBe(0);
    expect(receiver.received).toEqual([]);
    expect(await streamNamed("rekeyed")).toMatchObject({
      status: "failing",
      lastError: "cannot decrypt the stream's secrets (was PORTCULLIS_SECRET_KEY changed?)",
    });
  });

  it("sends only to the hosts the operator allows, checked at creation and before every POST", async () => {
    const post = (body: unknown) =>
      new Request("http://x/api/v1/audit-streams", {
        method: "POST",
        headers: { authorization: `Bearer ${TEST_TOKENS.admin}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const internal = { name: "internal", url: "http://169.254.169.254/latest/meta-data", format: "jsonl" };
    await expect(
      auditStreamsRest.create(db, post(internal), secretKey, ["collector.corp.example", "*.splunkcloud.com"]),
    ).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message:
        "169.254.169.254 is not among the hosts audit streams may send to (PORTCULLIS_AUDIT_STREAM_HOSTS)",
    });
    expect(await admin().auditStreams.list()).toEqual([]);

    // Created before the list was set: the forwarder holds its events back instead of sending them.
    await admin().auditStreams.create({
      name: "legacy",
      url: receiver.url(),
      format: "jsonl",
      startFrom: "beginning",
    });
    const strict = forwarder({ allowedHosts: ["collector.corp.example"] });
    expect((await strict.runOnce()).delivered).toBe(0);
    expect(receiver.received).toEqual([]);
    expect(await streamNamed("legacy")).toMatchObject({
      status: "failing",
      lastError: "127.0.0.1 is not among the hosts audit streams may send to",
    });
    await admin().auditStreams.setEnabled({ id: (await streamNamed("legacy")).id, enabled: true });
    expect(await drain(forwarder({ allowedHosts: ["127.0.0.1"] }))).toBeGreaterThan(0);
  });

  it("goes by the store's clock, so a replica whose clock runs ahead does not hold a stream back", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 10 * 60_000 });
    try {
      await admin().auditStreams.create({ name: "skewed", url: receiver.url(), format: "jsonl" });
      const f = forwarder();
      expect(await drain(f)).toBe(1); // the stream's own creation
      await appendAuditEvents(db, [newAuditEvent({ statement: "select 'first'" })]);
      expect(await drain(f)).toBe(1);
      await appendAuditEvents(db, [newAuditEvent({ statement: "select 'second'" })]);
      expect(await drain(f)).toBe(1); // due again at once by the store's clock, not in ten minutes
      receiver.respond = () => ({ status: 503 });
      await appendAuditEvents(db, [newAuditEvent({ statement: "select 'third'" })]);
      await f.runOnce();
      const failing = await streamNamed("skewed");
      const [{ now }] = await db.$queryRaw<[{ now: Date }]>`SELECT now() AS now`;
      // The first retry waits a second from the store's now, not from the fast clock.
      expect(Date.parse(failing.nextAttemptAt) - now.getTime()).toBeLessThanOrEqual(1_000);
    } finally {
      vi.useRealTimers();
    }
  });

  it("sends OCSF for the environments asked for, and from the beginning when asked", async () => {
    await appendAuditEvents(db, [
      newAuditEvent({ environment: "staging", statement: "select * from staging_only", tables: ["orders"] }),
      newAuditEvent({ environment: "production", statement: "select * from prod_only" }),
      newAuditEvent({
        environment: "staging",
        statement: "drop table orders",
        statementClass: "ddl",
        decision: "blocked",
        ruleName: "no-drop",
      }),
    ]);
    await admin().auditStreams.create({
      name: "lake",
      url: receiver.url("/ocsf"),
      format: "ocsf",
      environments: ["staging"],
      startFrom: "beginning",
    });
    await drain(forwarder());
    const events = receiver.events();
    expect(events).toHaveLength(2);
    expect(events.every((e) => (e.unmapped as { environment: string }).environment === "staging")).toBe(true);
    expect(events.every((e) => e.class_uid === 6005 && e.category_uid === 6)).toBe(true);
    const blocked = events.find(
      (e) => (e.query_info as { query_string?: string } | undefined)?.query_string === "drop table orders",
    );
    expect(blocked).toMatchObject({
      activity_id: 99,
      type_uid: 600599,
      severity_id: 3,
      status: "Failure",
      actor: { user: { name: "dev@demo.local", type_id: 1 } },
      database: { name: "demo", type: "PostgreSQL" },
      src_endpoint: { ip: "127.0.0.1" },
      unmapped: { decision: "blocked", rule: { name: "no-drop" } },
    });
    // Filtered-out events still move the cursor: nothing is left waiting.
    expect(await streamNamed("lake")).toMatchObject({ pending: 0, status: "delivering" });
  });

  it("keeps batches under the byte limit, sending an event larger than it on its own", async () => {
    await admin().auditStreams.create({ name: "sized", url: receiver.url(), format: "jsonl" });
    const big = `select '${"x".repeat(6000)}'`;
    const statements = ["select 'a'", "select 'b'", big, "select 'c'", "select 'd'"];
    await appendAuditEvents(
      db,
      statements.map((statement) => newAuditEvent({ statement })),
    );
    expect(await drain(forwarder({ maxBatchBytes: 2500 }))).toBe(6);
    expect(receiver.events().map((e) => e.statement ?? e.message)).toEqual([
      'created audit stream "sized" to ' + receiver.url(),
      ...statements,
    ]);
    const sizes = receiver.received.map((r) => Buffer.byteLength(r.body));
    expect(sizes.filter((size) => size > 2500)).toHaveLength(1); // the big one, alone
    expect(receiver.received.find((r) => r.body.includes("xxxx"))!.lines).toHaveLength(1);
  });

  it("lets only one replica deliver a stream at a time", async () => {
    await admin().auditStreams.create({ name: "shared", url: receiver.url(), format: "jsonl" });
    await appendAuditEvents(
      db,
      Array.from({ length: 300 }, (_, i) => newAuditEvent({ statement: `select ${i} as shared` })),
    );
    receiver.respond = () => ({ status: 200, stallMs: 100 });
    const a = forwarder({ holder: "replica-a" });
    const b = forwarder({ holder: "replica-b" });
    let total = 0;
    for (let pass = 0; pass < 20; pass += 1) {
      const [ra, rb] = await Promise.all([a.runOnce(), b.runOnce()]);
      total += ra.delivered + rb.delivered;
      if (!ra.more && !rb.more && (await streamNamed("shared")).pending === 0) break;
    }
    const ids = receiver.events().map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(total).toBe(301);
  });

  it("refuses bad configuration and keeps streams to admins", async () => {
    const bad = (input: Record<string, unknown>) =>
      refusal(
        admin().auditStreams.create({ name: "x", url: receiver.url(), format: "jsonl", ...input } as never),
      );
    expect((await bad({ url: "ftp://collector/x" })).code).toBe("BAD_REQUEST");
    expect((await bad({ format: "csv" })).code).toBe("BAD_REQUEST");
    expect((await bad({ authorization: "Bearer x\r\nX-Evil: 1" })).code).toBe("BAD_REQUEST");
    expect((await bad({ signingSecret: "short" })).code).toBe("BAD_REQUEST");
    expect((await bad({ name: "Splunk – prod" })).code).toBe("BAD_REQUEST"); // goes in a header: ASCII
    expect((await bad({ url: "https://user:pass@collector.example/x" })).message).toContain(
      "must not contain a user name or password",
    );

    await admin().auditStreams.create({ name: "dup", url: receiver.url(), format: "jsonl" });
    expect(
      await refusal(admin().auditStreams.create({ name: "dup", url: receiver.url(), format: "jsonl" })),
    ).toEqual({ code: "CONFLICT", message: 'An audit stream named "dup" already exists' });

    const developer = apiCaller(db, TEST_TOKENS.developer, secretKey);
    expect((await refusal(developer.auditStreams.list())).code).toBe("FORBIDDEN");
    expect(
      (await refusal(developer.auditStreams.create({ name: "mine", url: receiver.url(), format: "jsonl" })))
        .code,
    ).toBe("FORBIDDEN");
  });

  it("serves the same over the REST API, to admins, with clear errors", async () => {
    const request = (method: string, body?: string, token: string = TEST_TOKENS.admin) =>
      new Request("http://cp/api/v1/audit-streams", {
        method,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body,
      });
    const call = async (run: () => Promise<unknown>, status = 200) => {
      const response = await handleRest(run, undefined, status);
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    const created = await call(
      () =>
        auditStreamsRest.create(
          db,
          request("POST", JSON.stringify({ name: "from-ci", url: receiver.url(), format: "ocsf" })),
          secretKey,
        ),
      201,
    );
    expect(created).toMatchObject({
      status: 201,
      body: { name: "from-ci", format: "ocsf", status: "delivering" },
    });
    const id = created.body.id as string;
    expect((await call(() => auditStreamsRest.list(db, request("GET")))).body.items).toMatchObject([
      { id, name: "from-ci" },
    ]);
    expect(
      (await call(() => auditStreamsRest.setEnabled(db, request("POST"), id, false))).body,
    ).toMatchObject({
      status: "disabled",
    });
    expect((await call(() => auditStreamsRest.setEnabled(db, request("POST"), id, true))).body).toMatchObject(
      {
        status: "delivering",
      },
    );

    expect(
      await call(() => auditStreamsRest.create(db, request("POST", "{not json"), secretKey), 201),
    ).toMatchObject({ status: 400, body: { error: { message: "The request body must be JSON" } } });
    expect(
      (await call(() => auditStreamsRest.list(db, request("GET", undefined, TEST_TOKENS.developer)))).status,
    ).toBe(403);
    expect((await call(() => auditStreamsRest.list(db, request("GET", undefined, "pcat_nope")))).status).toBe(
      401,
    );

    expect((await call(() => auditStreamsRest.remove(db, request("DELETE"), id))).body).toEqual({
      deleted: true,
    });
    expect((await call(() => auditStreamsRest.remove(db, request("DELETE"), id))).status).toBe(404);
    expect(
      (await call(() => auditStreamsRest.setEnabled(db, request("POST"), "not-a-uuid", true))).status,
    ).toBe(400);
  });

  it("names the collector in the timeline and the API without the key a URL may carry", async () => {
    await admin().auditStreams.create({
      name: "keyed",
      url: "https://collector.example/v1/input?dd-api-key=SECRETKEY",
      format: "jsonl",
    });
    const page = await admin().audit.list({ filter: { text: "keyed" }, limit: 5 });
    expect(page.items[0]?.message).toBe('created audit stream "keyed" to https://collector.example/v1/input');
    expect(JSON.stringify(page.items)).not.toContain("SECRETKEY");
    const listed = await streamNamed("keyed");
    expect(listed).toMatchObject({ url: "https://collector.example/v1/input", urlQueryHidden: true });
    expect(JSON.stringify(await admin().auditStreams.list())).not.toContain("SECRETKEY");
  });

  it("refuses a token scoped to connections: a stream carries every connection's events", async () => {
    const adminIdentity = (await admin().identities.list()).find((i) => i.name === "admin@demo.local")!;
    const [connection] = await admin().policy.connections();
    const scoped = await admin().identities.createToken({
      identityId: adminIdentity.id,
      name: "scoped",
      connectionIds: [connection!.id],
    });
    const caller = apiCaller(db, scoped.token, secretKey);
    expect((await refusal(caller.auditStreams.list())).code).toBe("FORBIDDEN");
    expect(
      (await refusal(caller.auditStreams.create({ name: "exfil", url: receiver.url(), format: "jsonl" })))
        .code,
    ).toBe("FORBIDDEN");
    const stream = await admin().auditStreams.create({
      name: "guarded",
      url: receiver.url(),
      format: "jsonl",
    });
    expect((await refusal(caller.auditStreams.setEnabled({ id: stream.id, enabled: false }))).code).toBe(
      "FORBIDDEN",
    );
    expect((await refusal(caller.auditStreams.remove({ id: stream.id }))).code).toBe("FORBIDDEN");
    const response = await handleRest(() =>
      auditStreamsRest.list(
        db,
        new Request("http://cp/api/v1/audit-streams", {
          headers: { authorization: `Bearer ${scoped.token}` },
        }),
      ),
    );
    expect(response.status).toBe(403);
    expect((await streamNamed("guarded")).enabled).toBe(true);
  });

  it("gives its leases back at once when it stops mid-delivery, without marking the stream failing", async () => {
    await admin().auditStreams.create({ name: "handover", url: receiver.url(), format: "jsonl" });
    receiver.respond = () => ({ status: 200, stallMs: 5000 });
    const stopping = createAuditStreamForwarder({ db, secretKey, holder: "stopping" });
    const pass = stopping.runOnce();
    await new Promise((r) => setTimeout(r, 300)); // the POST is in flight
    const startedAt = Date.now();
    await stopping.close();
    await pass;
    expect(Date.now() - startedAt).toBeLessThan(2000);
    expect(await streamNamed("handover")).toMatchObject({ status: "delivering", failures: 0, pending: 1 });
    receiver.respond = () => ({ status: 200 });
    expect(await drain(forwarder({ holder: "successor" }))).toBe(1);
  });
});
