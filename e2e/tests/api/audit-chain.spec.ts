// The audit timeline is evidence: a direct UPDATE of a stored event (someone with write access to the
// store) is detected by the verify endpoint, which names the first broken link.
import { expect, test } from "@playwright/test";
import pg from "pg";
import { demo, psql } from "../../support/demos.ts";

test("tampering with a stored audit event is detected by GET /api/v1/audit-events/verify", async ({
  request,
}) => {
  const d = demo("postgres");
  const verify = async (anchors: string[] = []) => {
    const query = anchors.map((a) => `anchor=${encodeURIComponent(a)}`).join("&");
    const response = await request.get(`${d.dashboardUrl}/api/v1/audit-events/verify?${query}`, {
      headers: { Authorization: `Bearer ${d.adminToken}` },
    });
    expect(response.status()).toBe(200);
    return (await response.json()) as {
      ok: boolean;
      checked: number;
      firstBroken: { seq: string; id: string; reason: string } | null;
      head: { seq: string; hash: string } | null;
    };
  };
  const marker = `select 'chain-e2e-${Date.now()}'`;
  expect((await psql(d.developerUrl, marker)).ok).toBe(true);

  const store = new pg.Client({ connectionString: d.storeUrl });
  await store.connect();
  try {
    let row: { id: string; seq: string; statement: string } | undefined;
    await expect
      .poll(async () => {
        row = (
          await store.query("select id, seq::text, statement from audit_events where statement = $1", [
            marker,
          ])
        ).rows[0];
        return Boolean(row);
      })
      .toBe(true);
    const before = await verify();
    expect(before).toMatchObject({ ok: true, firstBroken: null });
    expect(before.checked).toBeGreaterThan(0);

    await store.query("update audit_events set statement = 'select 1' where id = $1", [row!.id]);
    const after = await verify();
    expect(after.ok).toBe(false);
    expect(after.firstBroken).toMatchObject({ id: row!.id, seq: row!.seq });

    await store.query("update audit_events set statement = $2 where id = $1", [row!.id, marker]);
    expect((await verify()).ok).toBe(true);

    // The head it reports, kept elsewhere, is an anchor for later verifications: the chain must still hold
    // that event with that hash (what cutting off the newest events, or re-hashing, would break).
    const { head } = before;
    expect(head?.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(await verify([`${head!.seq}:${head!.hash}`])).toMatchObject({ ok: true });
    const rewritten = await verify([`${head!.seq}:${"0".repeat(64)}`]);
    expect(rewritten).toMatchObject({ ok: false, firstBroken: { seq: head!.seq } });
    expect(rewritten.firstBroken?.reason).toMatch(/rewritten since/);
    const beyond = await verify([`${BigInt(head!.seq) + 10_000_000n}:${head!.hash}`]);
    expect(beyond.firstBroken?.reason).toMatch(/no longer in the chain/);
    const malformed = await request.get(`${d.dashboardUrl}/api/v1/audit-events/verify?anchor=12:zz`, {
      headers: { Authorization: `Bearer ${d.adminToken}` },
    });
    expect(malformed.status()).toBe(400);
  } finally {
    await store.end();
  }
  // Only auditors and admins may ask.
  const developerToken = /:(pcat_[^@]+)@/.exec(d.developerUrl)![1]!;
  const refused = await request.get(`${d.dashboardUrl}/api/v1/audit-events/verify`, {
    headers: { Authorization: `Bearer ${developerToken}` },
  });
  expect(refused.status()).toBe(403);
});

test("the audit trail exports as CSV and JSON Lines with the list's filters", async ({ request }) => {
  const d = demo("embedded");
  const marker = `select 'chain-export-${Date.now()}'`;
  // A client-chosen application name that a spreadsheet would run as a formula.
  const hostileApp = `${d.developerUrl}?application_name=${encodeURIComponent("=1+2")}`;
  expect((await psql(hostileApp, marker)).ok).toBe(true);
  const auth = { Authorization: `Bearer ${d.adminToken}` };
  const text = encodeURIComponent(marker.slice(8, -1));
  await expect
    .poll(async () => {
      const response = await request.get(
        `${d.dashboardUrl}/api/v1/audit-events/export?format=jsonl&text=${text}`,
        {
          headers: auth,
        },
      );
      return (await response.text()).trim().split("\n").filter(Boolean).length;
    })
    .toBe(1);
  const jsonl = await request.get(`${d.dashboardUrl}/api/v1/audit-events/export?format=jsonl&text=${text}`, {
    headers: auth,
  });
  expect(jsonl.headers()["content-type"]).toContain("application/x-ndjson");
  expect(JSON.parse((await jsonl.text()).trim())).toMatchObject({
    statement: marker,
    actorName: "dev@demo.local",
  });

  const csv = await request.get(`${d.dashboardUrl}/api/v1/audit-events/export?format=csv&text=${text}`, {
    headers: auth,
  });
  expect(csv.headers()["content-disposition"]).toMatch(/attachment; filename="portcullis-audit-.*\.csv"/);
  const [header, row] = (await csv.text()).trim().split("\n");
  expect(header).toMatch(/^occurredAt,type,actorName,/);
  expect(row).toContain("dev@demo.local");
  // Spreadsheet formula injection is defused: the cell keeps its text but cannot start with "=".
  expect(row).toContain(",'=1+2,");
  expect(row).not.toContain(",=1+2,");
  const bad = await request.get(`${d.dashboardUrl}/api/v1/audit-events/export?format=xml`, { headers: auth });
  expect(bad.status()).toBe(400);
});
