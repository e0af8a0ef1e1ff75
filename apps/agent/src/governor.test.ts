import { createHash, generateKeyPairSync, sign } from "node:crypto";
import type { TPolicySnapshot } from "@portcullis/agent-protocol";
import { describe, expect, it } from "vitest";
import { Governor } from "./governor.ts";
import type { TSessionInfo } from "./proxy/types.ts";

const hash = (token: string) => createHash("sha256").update(token).digest("hex");
const IDENTITY = "00000000-0000-4000-8000-000000000001";

function snapshot(revision: number, tokens: { token: string; expiresAt?: string }[]): TPolicySnapshot {
  return {
    revision,
    issuedAt: new Date().toISOString(),
    credentialKeys: [],
    endedSessions: [],
    connections: [
      {
        id: "00000000-0000-4000-8000-0000000000c1",
        name: "shop",
        environment: "production",
        upstream: {
          host: "127.0.0.1",
          port: 5432,
          database: "shop",
          username: "postgres",
          password: null,
          tlsMode: "disable",
          ca: null,
        },
        credentials: tokens.map((t) => ({
          identityId: IDENTITY,
          identityName: "svc@example.com",
          identityKind: "service" as const,
          groups: [],
          tokenHash: hash(t.token),
          expiresAt: t.expiresAt ?? null,
        })),
        grants: [],
        guardrails: [],
        maskingRules: [],
      },
    ],
  };
}

function login(governor: Governor, token: string): TSessionInfo {
  const outcome = governor.authenticate({ user: "svc@example.com", database: "shop", password: token });
  if (!outcome.ok) throw new Error(outcome.message);
  return {
    ...outcome.identity,
    sessionId: "s",
    connectionId: outcome.connection.id,
    connectionName: outcome.connection.name,
    environment: outcome.connection.environment,
    clientAddr: "127.0.0.1",
    applicationName: "test",
  };
}

describe("Governor.stillAuthorized", () => {
  it("ends only the sessions of a revoked token, not those of the identity's other tokens", () => {
    const governor = new Governor();
    governor.update(snapshot(1, [{ token: "pcat_a" }, { token: "pcat_b" }]));
    const viaA = login(governor, "pcat_a");
    const viaB = login(governor, "pcat_b");
    governor.update(snapshot(2, [{ token: "pcat_b" }])); // pcat_a revoked
    expect(governor.stillAuthorized(viaA)).toBe(false);
    expect(governor.stillAuthorized(viaB)).toBe(true);
    expect(governor.authenticate({ user: "svc@example.com", database: "shop", password: "pcat_a" }).ok).toBe(
      false,
    );
  });

  it("ends a session when its token expires", () => {
    const governor = new Governor();
    const expiresAt = new Date(Date.now() + 60_000).toISOString();
    governor.update(snapshot(1, [{ token: "pcat_a", expiresAt }]));
    const session = login(governor, "pcat_a");
    expect(governor.stillAuthorized(session)).toBe(true);
    expect(governor.stillAuthorized(session, Date.now() + 61_000)).toBe(false);
  });
});

describe("Governor.wasEnded", () => {
  it("names the sessions an admin ended in the latest snapshot, and no others", () => {
    const governor = new Governor();
    governor.update(snapshot(1, [{ token: "pcat_a" }]));
    const ended = { ...login(governor, "pcat_a"), sessionId: "00000000-0000-4000-8000-00000000e001" };
    const other = { ...login(governor, "pcat_a"), sessionId: "00000000-0000-4000-8000-00000000e002" };
    expect(governor.wasEnded(ended)).toBe(false);
    governor.update({ ...snapshot(2, [{ token: "pcat_a" }]), endedSessions: [ended.sessionId] });
    expect(governor.wasEnded(ended)).toBe(true);
    expect(governor.wasEnded(other)).toBe(false);
    expect(governor.stillAuthorized(other)).toBe(true);
  });
});

describe("Governor.authenticate", () => {
  it("admits a token one of whose grants has ended while another still holds", () => {
    const governor = new Governor();
    const ended = new Date(Date.now() - 1000).toISOString();
    // The same token twice: its grant through a group has ended, its own grant has no end.
    governor.update(snapshot(1, [{ token: "pcat_a", expiresAt: ended }, { token: "pcat_a" }]));
    expect(login(governor, "pcat_a").identityName).toBe("svc@example.com");
    governor.update(snapshot(2, [{ token: "pcat_a", expiresAt: ended }]));
    expect(governor.authenticate({ user: "svc@example.com", database: "shop", password: "pcat_a" }).ok).toBe(
      false,
    );
  });
});

describe("short-lived signed credentials", () => {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const CONNECTION = "00000000-0000-4000-8000-0000000000c1";
  const signed = (payload: Record<string, unknown>, key = privateKey) => {
    const bytes = Buffer.from(JSON.stringify(payload));
    return `pcdb_${bytes.toString("base64url")}.${sign(null, bytes, key).toString("base64url")}`;
  };
  const claims = (overrides: Record<string, unknown> = {}) => ({
    kid: "k1",
    sub: IDENTITY,
    cid: CONNECTION,
    exp: Math.floor(Date.now() / 1000) + 600,
    jti: "abcdefghij",
    ...overrides,
  });
  function withGrant(granted: boolean): TPolicySnapshot {
    const base = snapshot(1, []);
    return {
      ...base,
      credentialKeys: [
        { kid: "k1", publicKey: publicKey.export({ type: "spki", format: "der" }).toString("base64") },
      ],
      connections: base.connections.map((c) => ({
        ...c,
        grants: granted
          ? [
              {
                identityId: IDENTITY,
                identityName: "svc@example.com",
                identityKind: "service" as const,
                groups: [],
                expiresAt: null,
              },
            ]
          : [],
      })),
    };
  }
  const attempt = (governor: Governor, password: string) =>
    governor.authenticate({ user: "svc@example.com", database: "shop", password });

  it("admits a valid credential offline and ends its session when the grant goes", () => {
    const governor = new Governor();
    governor.update(withGrant(true));
    const session = login(governor, signed(claims()));
    expect(governor.stillAuthorized(session)).toBe(true);
    expect(governor.stillAuthorized(session, Date.now() + 601_000)).toBe(false); // expired
    governor.update(withGrant(false));
    expect(governor.stillAuthorized(session)).toBe(false);
    expect(attempt(governor, signed(claims())).ok).toBe(false);
  });

  it.each([
    ["a tampered payload", () => signed(claims()).replace(/^pcdb_(\w)/, "pcdb_A")],
    ["another key", () => signed(claims(), generateKeyPairSync("ed25519").privateKey)],
    ["an unknown key id", () => signed(claims({ kid: "nope" }))],
    ["another connection", () => signed(claims({ cid: "00000000-0000-4000-8000-0000000000c2" }))],
    ["another identity", () => signed(claims({ sub: "00000000-0000-4000-8000-000000000002" }))],
    ["an expired credential", () => signed(claims({ exp: Math.floor(Date.now() / 1000) - 1 }))],
    ["garbage", () => "pcdb_not-a-credential"],
  ])("refuses %s", (_label, make) => {
    const governor = new Governor();
    governor.update(withGrant(true));
    expect(attempt(governor, make()).ok).toBe(false);
  });
});

describe("Governor.decide on repeated statements", () => {
  const guardrail = {
    id: "rule-orders",
    name: "No reads of customers",
    priority: 10,
    action: "block" as const,
    message: "customers are off limits",
    match: { tables: ["customers"] },
  };
  const ssnRule = {
    id: "mask-ssn",
    name: "Mask SSNs",
    columnPattern: "customers.ssn",
    detector: null,
    strategy: "redact" as const,
    exemptIdentities: [],
    exemptGroups: [],
  };
  function withRules(revision: number, guardrails: (typeof guardrail)[], maskingRules: (typeof ssnRule)[]) {
    const base = snapshot(revision, [{ token: "t" }]);
    return { ...base, connections: base.connections.map((c) => ({ ...c, guardrails, maskingRules })) };
  }

  it("applies a policy update to a statement it has already decided", () => {
    const governor = new Governor();
    governor.update(withRules(1, [], [ssnRule]));
    const session = login(governor, "t");
    const sql = "select ssn, total from customers where id = $1";
    expect(governor.decide(session, sql).masking[0]?.tainted).toBe(true);
    expect(governor.decide(session, sql).masking[0]?.tainted).toBe(true);

    governor.update(withRules(2, [guardrail], [ssnRule]));
    const blocked = governor.decide(session, sql);
    expect(blocked.action).toBe("block");
    expect(blocked.ruleName).toBe("No reads of customers");

    governor.update(withRules(3, [], []));
    const allowed = governor.decide(session, sql);
    expect(allowed.action).toBe("allow");
    expect(allowed.masking[0]?.tainted).toBe(false);
  });

  it("keeps each text of a statement shape in its verdict while reusing the decision", () => {
    const governor = new Governor();
    governor.update(withRules(1, [], [ssnRule]));
    const session = login(governor, "t");
    const texts = [1, 2, 3].map((n) => `select ssn from customers where id = ${n}`);
    const verdicts = texts.map((sql) => governor.decide(session, sql));
    expect(verdicts.map((v) => v.statements[0]?.text)).toEqual(texts);
    expect(verdicts.every((v) => v.action === "allow" && v.masking[0]?.tainted)).toBe(true);
  });
});
