// Creating connections through the tRPC router against a real store: what reaches the agent in its policy
// snapshot, and what the input validation refuses (here: the CA bundle for verify-ca / verify-full).
import { ZPolicySnapshot } from "@portcullis/agent-protocol";
import {
  buildPolicySnapshot,
  createDb,
  deriveSecretKey,
  recordAgentHeartbeat,
  upsertSsoIdentity,
  type TDb,
} from "@portcullis/db";
import { createTestDatabase } from "@portcullis/db/test-support";
import { generate } from "selfsigned";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCaller, refusal, seedApiTestStore, TEST_TOKENS } from "../test-support.ts";

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let db: TDb;
let agentId: string;
let connectionId: string;
let ca: { cert: string; key: string };
const secretKey = deriveSecretKey("test-secret-key-123");

const admin = () => apiCaller(db, TEST_TOKENS.admin, secretKey);

type TTls = { tlsMode: "disable" | "require" | "verify-ca" | "verify-full"; tlsCa?: string | null };

const connection = (name: string, tls: TTls) => ({
  agentId,
  name,
  environment: "staging",
  host: "db.internal.example",
  port: 5432,
  database: "app",
  username: "app",
  password: "s3cret",
  applyBaseline: true,
  ...tls,
});

async function upstreamOf(name: string) {
  const snapshot = ZPolicySnapshot.parse(await buildPolicySnapshot(db, agentId, { secretKey }));
  return snapshot.connections.find((c) => c.name === name)?.upstream;
}

beforeAll(async () => {
  database = await createTestDatabase();
  db = createDb(database.url, { poolMax: 2 });
  ({ agentId, connectionId } = await seedApiTestStore(db, { guardrails: [], maskingRules: [] }));
  const pems = await generate([{ name: "commonName", value: "Example Private CA" }], {
    keySize: 2048,
    algorithm: "sha256",
    extensions: [{ name: "basicConstraints", cA: true }],
  });
  ca = { cert: pems.cert, key: pems.private };
});

afterAll(async () => {
  await db?.$disconnect();
  await database?.drop();
});

describe("connections: the database's CA", () => {
  it("sends the CA bundle given at creation to the agent, with the verify mode", async () => {
    const bundle = `${ca.cert.trim()}\n${ca.cert.trim()}\n`;
    await admin().connections.create(connection("private-ca", { tlsMode: "verify-full", tlsCa: bundle }));
    const upstream = await upstreamOf("private-ca");
    expect(upstream).toMatchObject({ tlsMode: "verify-full", host: "db.internal.example" });
    expect(upstream?.ca).toBe(bundle.trim());
  });

  it("sends no CA when none is given (the agent host's system store is used)", async () => {
    await admin().connections.create(connection("system-ca", { tlsMode: "verify-full" }));
    expect((await upstreamOf("system-ca"))?.ca).toBeNull();
  });

  it.each<[string, TTls, RegExp]>([
    ["text that is not a certificate", { tlsMode: "verify-full", tlsCa: "hello" }, /PEM certificates/],
    [
      "a damaged certificate",
      {
        tlsMode: "verify-ca",
        tlsCa: "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----",
      },
      /certificate 1 of the CA bundle cannot be read/,
    ],
    [
      "a CA with a mode that does not verify",
      { tlsMode: "require", tlsCa: "CA" },
      /verify-ca or verify-full/,
    ],
  ])("refuses %s", async (_what, tls, message) => {
    const tlsCa = tls.tlsCa === "CA" ? ca.cert : tls.tlsCa;
    const refused = await refusal(admin().connections.create(connection("refused", { ...tls, tlsCa })));
    expect(refused.code).toBe("BAD_REQUEST");
    expect(refused.message).toMatch(message);
    expect(await upstreamOf("refused")).toBeUndefined();
  });

  it("refuses a private key pasted as the CA, without storing it", async () => {
    const refused = await refusal(
      admin().connections.create(connection("leaky", { tlsMode: "verify-full", tlsCa: ca.key })),
    );
    expect(refused.code).toBe("BAD_REQUEST");
    expect(refused.message).toMatch(/private key/);
    expect(await db.connection.count({ where: { name: "leaky" } })).toBe(0);
  });
});

describe("connections: access at onboarding", () => {
  it("grants the identities and the groups chosen, and the group's members reach the agent", async () => {
    await upsertSsoIdentity(db, {
      issuer: "https://idp.example",
      subject: "dana",
      email: "dana@corp.example",
      displayName: "Dana",
      groups: ["data-platform"],
      roles: ["member"],
    });
    const created = await admin().connections.create({
      ...connection("analytics", { tlsMode: "disable" }),
      grantGroups: ["data-platform", "dba"],
    });
    const grants = (await admin().identities.grants()).filter((g) => g.connection.id === created.id);
    expect(grants.map((g) => [g.grantee.type, g.grantee.name, g.reason]).sort()).toEqual([
      ["group", "data-platform", "granted at onboarding"],
      ["group", "dba", "granted at onboarding"],
    ]);
    const snapshot = ZPolicySnapshot.parse(await buildPolicySnapshot(db, agentId, { secretKey }));
    expect(
      snapshot.connections.find((c) => c.name === "analytics")?.grants.map((g) => g.identityName),
    ).toEqual(["dana@corp.example"]);
    const record = await admin().audit.list({
      filter: { text: 'onboarded connection "analytics"' },
      limit: 1,
    });
    expect(record.items[0]?.message).toContain("access for group data-platform, group dba");
  });
});

describe("connections: an agent linked to another control-plane replica", () => {
  // No gateway runs in this process, as on a replica the agent is not linked to: what the caller gets
  // comes from the agent's heartbeat in the shared store.
  const developer = () => apiCaller(db, TEST_TOKENS.developer, secretKey);

  it("is online, and reachable at the address it announced, while its heartbeat is recent", async () => {
    await recordAgentHeartbeat(db, agentId, { address: "agent-7.internal:6432" });
    expect((await developer().connections.mine()).find((c) => c.id === connectionId)?.agentOnline).toBe(true);
    const issued = await developer().connections.credential({ connectionId, ttlMinutes: 15 });
    expect(issued.url).toMatch(
      /^postgresql:\/\/dev%40demo\.local:pc[a-z]*_[^@]+@agent-7\.internal:6432\/demo$/,
    );
  });

  it("is offline once its last heartbeat is older than the Agents page allows", async () => {
    await recordAgentHeartbeat(
      db,
      agentId,
      { address: "agent-7.internal:6432" },
      new Date(Date.now() - 60_000),
    );
    expect((await developer().connections.mine()).find((c) => c.id === connectionId)?.agentOnline).toBe(
      false,
    );
    expect(await refusal(developer().connections.credential({ connectionId, ttlMinutes: 15 }))).toEqual({
      code: "CONFLICT",
      message: "The agent serving this connection is offline",
    });
  });
});
