import { createHash } from "node:crypto";
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
        },
        credentials: tokens.map((t) => ({
          identityId: IDENTITY,
          identityName: "svc@example.com",
          identityKind: "service" as const,
          groups: [],
          tokenHash: hash(t.token),
          expiresAt: t.expiresAt ?? null,
        })),
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
