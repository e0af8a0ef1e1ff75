// Text Postgres cannot store (NUL, half a surrogate pair) and cursors it cannot compare (a seq beyond bigint)
// are refused as the caller's mistake (400 / BAD_REQUEST) before they reach the store, where they were 500s.
import { createDb, type TDb } from "@portcullis/db";
import { createTestDatabase } from "@portcullis/db/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { approvalsRest } from "./approvals/rest.ts";
import { listAuditEventsRest } from "./audit/rest.ts";
import { handleRest } from "./rest.ts";
import { apiCaller, refusal, seedApiTestStore, TEST_TOKENS } from "./test-support.ts";

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let db: TDb;
let connectionId: string;
const headers = { authorization: `Bearer ${TEST_TOKENS.admin}` };
const halfEmoji = "😀".slice(0, 1);

const auditEvents = (query: string) =>
  handleRest(() =>
    listAuditEventsRest(db, new Request(`http://x/api/v1/audit-events?${query}`, { headers })),
  );
const cursorOf = (text: string) => Buffer.from(text).toString("base64url");

beforeAll(async () => {
  database = await createTestDatabase();
  db = createDb(database.url, { poolMax: 2 });
  ({ connectionId } = await seedApiTestStore(db, { guardrails: [], maskingRules: [] }));
});

afterAll(async () => {
  await db?.$disconnect();
  await database?.drop();
});

describe("input text and cursors the store cannot take", () => {
  it("answers 400 for NUL or half a surrogate pair in the audit events' text filter", async () => {
    expect((await auditEvents("text=a%00b")).status).toBe(400);
    expect((await auditEvents("actor=a%00b")).status).toBe(400);
    expect((await auditEvents("text=select")).status).toBe(200);
  });

  it("answers 400 for a cursor whose seq is beyond a bigint or whose time is not one it made", async () => {
    const huge = await auditEvents(`cursor=${cursorOf("2020-01-01T00:00:00.000Z|99999999999999999999999")}`);
    expect(huge.status).toBe(400);
    expect(await huge.json()).toEqual({ error: { code: "BAD_REQUEST", message: "Invalid cursor" } });
    expect(
      (await auditEvents(`cursor=${cursorOf("2020-01-01T00:00:00.000Z|9223372036854775808")}`)).status,
    ).toBe(400);
    expect((await auditEvents(`cursor=${cursorOf("-100000-01-01T00:00:00.000Z|1")}`)).status).toBe(400);
    expect(
      (await auditEvents(`cursor=${cursorOf("2020-01-01T00:00:00.000Z|9223372036854775807")}`)).status,
    ).toBe(200);
  });

  it("answers 400 for NUL or half a surrogate pair in an access request's reason", async () => {
    const ask = (reason: string) =>
      handleRest(() =>
        approvalsRest.createAccessRequest(
          db,
          new Request("http://x/api/v1/access-requests", {
            method: "POST",
            headers: { ...headers, "content-type": "application/json" },
            body: JSON.stringify({ connectionId, durationSeconds: 60, reason }),
          }),
        ),
      );
    expect((await ask("a\u0000b")).status).toBe(400);
    expect((await ask(`need it ${halfEmoji}`)).status).toBe(400);
    expect((await ask("need it 😀")).status).toBe(200);
  });

  it("refuses such text in names and messages over tRPC as BAD_REQUEST", async () => {
    const admin = apiCaller(db, TEST_TOKENS.admin);
    expect(
      (await refusal(admin.identities.create({ name: "bot", displayName: "B\u0000t", kind: "service" })))
        .code,
    ).toBe("BAD_REQUEST");
    expect(
      (
        await refusal(
          admin.policy.saveGuardrail({
            scope: { connectionId },
            fields: {
              name: "n",
              priority: 1,
              action: "block",
              message: `no ${halfEmoji}`,
              match: { classes: ["write"] },
            },
          }),
        )
      ).code,
    ).toBe("BAD_REQUEST");
    expect(
      (await refusal(admin.sessions.end({ sessionId: crypto.randomUUID(), reason: "x\u0000" }))).code,
    ).toBe("BAD_REQUEST");
  });
});
