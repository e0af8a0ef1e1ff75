// Inline approvals from the demo's Developer line: a write waits in its psql session; it is listed as
// pending; an approval with the admin API token makes the waiting psql finish, a denial refuses it and
// changes nothing, and nobody approves their own statement.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { expect, test, type APIRequestContext } from "@playwright/test";
import { demo, psql, type TDemo } from "../../support/demos.ts";
import { ROOT, TMP } from "../../support/paths.ts";
import { start } from "../../support/processes.ts";

interface TApproval {
  id: string;
  status: string;
  statement: string;
  requester: { name: string; kind: string };
  connection: { name: string; environment: string };
  risk: string;
}

/** psql in the background, as a person waiting at the prompt. */
function psqlInBackground(
  url: string,
  sql: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> & {
  cancel(signal?: NodeJS.Signals): void;
} {
  const child = spawn("psql", [url, "-X", "-v", "ON_ERROR_STOP=1", "-c", sql]);
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
  return Object.assign(done, {
    cancel: (signal: NodeJS.Signals = "SIGTERM") => void child.kill(signal),
  });
}

async function pendingFor(request: APIRequestContext, d: TDemo, statement: string): Promise<TApproval> {
  let found: TApproval | undefined;
  await expect
    .poll(
      async () => {
        const response = await request.get(`${d.dashboardUrl}/api/v1/approvals?status=pending`, {
          headers: { Authorization: `Bearer ${d.adminToken}` },
        });
        expect(response.status()).toBe(200);
        const { items } = (await response.json()) as { items: TApproval[] };
        found = items.find((i) => i.statement === statement);
        return Boolean(found);
      },
      { timeout: 10_000 },
    )
    .toBe(true);
  return found!;
}

test("a held write runs once approved, and is refused with the decider's reason when denied", async ({
  request,
}) => {
  const d = demo("postgres");
  const admin = { Authorization: `Bearer ${d.adminToken}` };
  const phone = (await psql(d.developerUrl, "select phone from customers where id = 2")).stdout;

  // (Not `set phone = phone`: that stores a masked column, which no approval lets through.)
  const update = "update customers set city = city where id = 1";
  const waiting = psqlInBackground(d.developerUrl, update);
  const approval = await pendingFor(request, d, update);
  expect(approval).toMatchObject({
    status: "pending",
    requester: { name: "dev@demo.local", kind: "human" },
    connection: { name: "demo", environment: "production" },
  });
  const approved = await request.post(`${d.dashboardUrl}/api/v1/approvals/${approval.id}/approve`, {
    headers: admin,
    data: { reason: "routine fix" },
  });
  expect(approved.status()).toBe(200);
  const result = await waiting;
  expect(result.code).toBe(0);
  expect(result.stdout.trim()).toBe("UPDATE 1");
  expect(result.stderr).toContain("needs an approval");

  const denied = "update customers set phone = '000' where id = 2";
  const refused = psqlInBackground(d.developerUrl, denied);
  const second = await pendingFor(request, d, denied);
  // A denial needs a reason for the requester.
  expect(
    (await request.post(`${d.dashboardUrl}/api/v1/approvals/${second.id}/deny`, { headers: admin })).status(),
  ).toBe(400);
  const deny = await request.post(`${d.dashboardUrl}/api/v1/approvals/${second.id}/deny`, {
    headers: admin,
    data: { reason: "use the ticket queue" },
  });
  expect(deny.status()).toBe(200);
  const refusal = await refused;
  expect(refusal.code).not.toBe(0);
  expect(refusal.stderr).toContain("denied by admin@demo.local: use the ticket queue");
  expect((await psql(d.developerUrl, "select phone from customers where id = 2")).stdout).toBe(phone);
  // Decided is decided.
  expect(
    (
      await request.post(`${d.dashboardUrl}/api/v1/approvals/${second.id}/approve`, {
        headers: admin,
        data: { reason: "changed my mind" },
      })
    ).status(),
  ).toBe(409);
});

test("a held statement its requester gives up on is withdrawn: Ctrl-C refuses it, closing psql too", async ({
  request,
}) => {
  const d = demo("postgres");
  const admin = { Authorization: `Bearer ${d.adminToken}` };
  const cancelled = async (id: string) => {
    const response = await request.get(`${d.dashboardUrl}/api/v1/approvals?status=cancelled`, {
      headers: admin,
    });
    return ((await response.json()) as { items: TApproval[] }).items.some((i) => i.id === id);
  };

  // Ctrl-C at the psql prompt sends a CancelRequest: the statement is refused as cancelled, never runs later.
  const interrupted = "update customers set city = city where id = 5";
  const waiting = psqlInBackground(d.developerUrl, interrupted);
  const first = await pendingFor(request, d, interrupted);
  waiting.cancel("SIGINT");
  const result = await waiting;
  expect(result.code).not.toBe(0);
  expect(result.stderr).toContain("canceling statement due to user request");
  await expect.poll(() => cancelled(first.id), { timeout: 10_000 }).toBe(true);
  const late = await request.post(`${d.dashboardUrl}/api/v1/approvals/${first.id}/approve`, {
    headers: admin,
    data: { reason: "too late" },
  });
  expect(late.status()).toBe(409);

  // psql closed outright: the agent notices the client is gone and withdraws the request.
  const abandoned = "update customers set city = city where id = 6";
  const closing = psqlInBackground(d.developerUrl, abandoned);
  const second = await pendingFor(request, d, abandoned);
  closing.cancel("SIGKILL");
  await closing;
  await expect.poll(() => cancelled(second.id), { timeout: 10_000 }).toBe(true);
});

test("nobody approves their own statement, and a member cannot approve at all", async ({ request }) => {
  const d = demo("embedded");
  const admin = { Authorization: `Bearer ${d.adminToken}` };
  const list = async <T>(path: string) =>
    ((await (await request.get(`${d.dashboardUrl}${path}`, { headers: admin })).json()) as { items: T[] })
      .items;
  const adminIdentity = (await list<{ id: string; name: string }>("/api/v1/identities")).find(
    (i) => i.name === d.adminEmail,
  )!;
  const connection = (await list<{ id: string; name: string }>("/api/v1/connections")).find(
    (c) => c.name === "demo",
  )!;
  expect(
    (
      await request.post(`${d.dashboardUrl}/api/v1/grants`, {
        headers: admin,
        data: { identityId: adminIdentity.id, connectionId: connection.id, reason: "e2e: self-approval" },
      })
    ).status(),
  ).toBe(201);
  // The admin's own API token as a database password: an unbounded write needs an approval in production.
  const adminUrl = d.developerUrl.replace(
    /^postgresql:\/\/[^@]+@/,
    `postgresql://${encodeURIComponent(d.adminEmail)}:${d.adminToken}@`,
  );
  // The agent admits the admin once the grant reaches it (within a second or so).
  await expect.poll(async () => (await psql(adminUrl, "select 1")).stdout, { timeout: 10_000 }).toBe("1");
  const statement = "update orders set quantity = quantity";
  const waiting = psqlInBackground(adminUrl, statement);
  const approval = await pendingFor(request, d, statement);
  const own = await request.post(`${d.dashboardUrl}/api/v1/approvals/${approval.id}/approve`, {
    headers: admin,
    data: { reason: "trust me" },
  });
  expect(own.status()).toBe(409);
  expect(((await own.json()) as { error: { message: string } }).error.message).toMatch(/your own statement/);
  const developerToken = /:(pcat_[^@]+)@/.exec(d.developerUrl)![1]!;
  const member = await request.post(`${d.dashboardUrl}/api/v1/approvals/${approval.id}/approve`, {
    headers: { Authorization: `Bearer ${developerToken}` },
    data: { reason: "me too" },
  });
  expect(member.status()).toBe(403);
  await request.post(`${d.dashboardUrl}/api/v1/approvals/${approval.id}/deny`, {
    headers: { Authorization: `Bearer ${developerToken}` },
    data: { reason: "x" },
  });
  // Neither counted: the request is still pending. The requester gives up (closing psql drops the statement).
  const stillPending = await pendingFor(request, d, statement);
  expect(stillPending.id).toBe(approval.id);
  waiting.cancel();
  await waiting;
});

test("a decision made on a second control-plane replica reaches the agent linked to the first", async ({
  request,
}) => {
  // Another replica of the postgres-store demo's control plane: same store and secrets, its own process and
  // port, and no agent linked to it. Decisions it takes must travel over the store's LISTEN/NOTIFY.
  const d = demo("postgres");
  const secrets = JSON.parse(readFileSync(path.join(TMP, "postgres", "demo-secrets.json"), "utf8")) as {
    authSecret: string;
    secretKey: string;
  };
  const replicaUrl = "http://127.0.0.1:3350";
  const replica = start(process.execPath, ["--enable-source-maps", "dist/server.mjs"], {
    cwd: path.join(ROOT, "apps", "web"),
    env: {
      NODE_ENV: "production",
      DATABASE_URL: d.storeUrl!,
      AUTH_SECRET: secrets.authSecret,
      PORTCULLIS_SECRET_KEY: secrets.secretKey,
      HOST: "127.0.0.1",
      PORT: "3350",
      PUBLIC_URL: replicaUrl,
      LOG_LEVEL: "info",
    },
    logFile: path.join(TMP, "second-replica.log"),
  });
  try {
    await replica.waitFor(/listening on http:\/\/127\.0\.0\.1:3350/, 60_000);
    const update = "update customers set city = city where id = 4";
    const waiting = psqlInBackground(d.developerUrl, update);
    const approval = await pendingFor(request, d, update);
    const approved = await request.post(`${replicaUrl}/api/v1/approvals/${approval.id}/approve`, {
      headers: { Authorization: `Bearer ${d.adminToken}` },
      data: { reason: "approved on the other replica" },
    });
    expect(approved.status()).toBe(200);
    const result = await waiting;
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe("UPDATE 1");
  } finally {
    await replica.stop("SIGTERM");
  }
});
