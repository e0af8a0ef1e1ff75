// A client guessing logins in a loop: the agent audits the first failures from its address one by one and
// the rest of the window as one summary, so a flood cannot fill the audit spool (which would refuse everyone's
// statements) or the store; a client-chosen name does not blow up the events either.
import { createTestDatabase } from "@portcullis/db/test-support";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localUpstream, startTestProxy, type TTestProxy } from "./test-harness.ts";

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let proxy: TTestProxy;
const WINDOW_MS = 1_000;

beforeAll(async () => {
  database = await createTestDatabase({ migrate: false });
  proxy = await startTestProxy(
    { shop: localUpstream(database.name) },
    { authFailures: { perWindow: 5, windowMs: WINDOW_MS } },
  );
});

afterAll(async () => {
  await proxy?.close();
  await database?.drop();
});

async function failedLogin(user?: string): Promise<string> {
  const client = new pg.Client(
    user
      ? { host: "127.0.0.1", port: proxy.port, database: "shop", user, password: "pcat_guess" }
      : { connectionString: proxy.url({ password: "pcat_guess" }) },
  );
  return client.connect().then(
    () => "logged in",
    (error: Error) => error.message,
  );
}

describe("failed logins", () => {
  it("records the first of a window one by one and the rest as one summary", async () => {
    const refusals = await Promise.all(Array.from({ length: 40 }, () => failedLogin()));
    expect(new Set(refusals)).toEqual(
      new Set([expect.stringMatching(/^password authentication failed for user/)]),
    );
    const failures = () => proxy.events.filter((e) => e.type === "auth_failure");
    expect(failures()).toHaveLength(5);
    await expect
      .poll(
        () =>
          failures()
            .map((e) => e.message)
            .at(-1),
        { timeout: 3 * WINDOW_MS },
      )
      .toMatch(/^35 more failed logins from 127\.0\.0\.1 within 1 s, not recorded one by one/);
    expect(failures()).toHaveLength(6);
    // A valid login still works from that address.
    const client = new pg.Client({ connectionString: proxy.url() });
    await client.connect();
    await client.end();
  });

  it("quotes a client-chosen user name of thousands of characters clipped", async () => {
    await new Promise((r) => setTimeout(r, WINDOW_MS)); // a fresh window
    const refusal = await failedLogin("x".repeat(5_000));
    expect(refusal).toMatch(/^password authentication failed for user "xxx/);
    expect(refusal.length).toBeLessThan(600);
    const event = proxy.events.filter((e) => e.type === "auth_failure").at(-1);
    expect(event?.message?.length).toBeLessThan(600);
  });
});
