// The zero-setup demo from the outside, for both stores: what a newcomer does with the printed lines.
import { expect, test, type APIRequestContext } from "@playwright/test";
import postgres from "postgres";
import { demo, psql, type TDemo } from "../../support/demos.ts";

interface TEventDto {
  type: string;
  actorName: string;
  actorKind: string;
  statement: string | null;
  decision: string;
  ruleName: string | null;
  rowCount: number | null;
  connectionName: string | null;
  environment: string | null;
}

// Schema changes and bulk writes a developer might try in production; each must be refused.
const STATEMENTS = [
  "drop table orders",
  "truncate orders",
  "delete from orders",
  "update customers set phone = null",
  "alter table customers drop column ssn",
  "create table leak as select * from customers",
  "do $$ begin delete from orders; end $$",
  "with gone as (delete from orders returning *) select count(*) from gone",
  "grant all on customers to public",
  "select setval('orders_id_seq', 1)",
];

for (const mode of ["embedded", "postgres"] as const) {
  test.describe(`demo with the ${mode} store`, () => {
    let d: TDemo;
    test.beforeAll(() => {
      d = demo(mode);
    });

    async function events(request: APIRequestContext, query: string): Promise<TEventDto[]> {
      const response = await request.get(`${d.dashboardUrl}/api/v1/audit-events?${query}`, {
        headers: { Authorization: `Bearer ${d.adminToken}` },
      });
      expect(response.status()).toBe(200);
      return ((await response.json()) as { items: TEventDto[] }).items;
    }

    test("prints the four lines with the documented shape", () => {
      expect(d.dashboardUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(d.adminEmail).toBe("admin@demo.local");
      expect(d.developerUrl).toMatch(/^postgresql:\/\/dev%40demo\.local:pcat_[\w-]+@127\.0\.0\.1:\d+\/demo$/);
      expect(d.copilotUrl).toMatch(
        /^postgresql:\/\/copilot%40demo\.local:pcat_[\w-]+@127\.0\.0\.1:\d+\/demo$/,
      );
    });

    test("health answers 200", async ({ request }) => {
      const response = await request.get(`${d.dashboardUrl}/api/health`);
      expect(response.status()).toBe(200);
    });

    test("the Developer line runs a query through the agent, and the timeline API shows it", async ({
      request,
    }) => {
      const result = await psql(d.developerUrl, "select count(*) from customers");
      expect(result).toMatchObject({ ok: true, stdout: "200" });
      await expect
        .poll(
          async () =>
            (await events(request, "text=select%20count(*)%20from%20customers&limit=20")).find(
              (e) => e.actorName === "dev@demo.local",
            ),
          { timeout: 15_000 },
        )
        .toMatchObject({
          type: "statement",
          decision: "allowed",
          rowCount: 1,
          connectionName: "demo",
          environment: "production",
          actorKind: "human",
        });
    });

    test("DROP TABLE is blocked with the rule's name and nothing is dropped", async ({ request }) => {
      const result = await psql(d.developerUrl, "DROP TABLE customers");
      expect(result.ok).toBe(false);
      expect(result.stderr).toContain("Block destructive DDL");
      expect((await psql(d.developerUrl, "select count(*) from customers")).stdout).toBe("200");
      await expect
        .poll(async () => (await events(request, "text=DROP%20TABLE%20customers&decision=blocked")).length, {
          timeout: 15_000,
        })
        .toBeGreaterThan(0);
    });

    test("the AI agent identity can read but not write", async ({ request }) => {
      expect((await psql(d.copilotUrl, "select count(*) from orders where quantity > 0")).ok).toBe(true);
      const write = await psql(d.copilotUrl, "delete from orders where id = 1");
      expect(write.ok).toBe(false);
      expect(write.stderr).toContain("AI agents are read-only");
      await expect
        .poll(
          async () =>
            (await events(request, "text=delete%20from%20orders%20where%20id%20%3D%201")).find(
              (e) => e.actorName === "copilot@demo.local",
            ),
          { timeout: 15_000 },
        )
        .toMatchObject({ decision: "blocked", actorKind: "ai_agent", ruleName: "AI agents are read-only" });
    });

    test("PII is masked for the developer, however the query is written", async () => {
      const ada = await psql(
        d.developerUrl,
        "select full_name, email, ssn, credit_card from customers where id = 1",
      );
      expect(ada.stdout).toBe("Ada Lovelace|a***@example.com|***-**-1120|**** **** **** 1111");
      const forbidden = [
        "ada.lovelace@example.com",
        "078-05-1120",
        "078051120",
        "4111 1111 1111 1111",
        "4111111111111111",
      ];
      for (const sql of [
        "select * from customers where id = 1",
        "select row_to_json(c) from customers c where id = 1",
        "select lower(email), reverse(ssn), replace(credit_card, ' ', '') from customers where id = 1",
        "with t as (select ssn as s, email as e from customers) select s || '', e from t",
        "select ssn::int from customers where id = 1",
        "select (select email from customers where id = 1) union all select ssn from customers where id = 1",
        "copy (select email, ssn from customers) to stdout",
      ]) {
        const result = await psql(d.developerUrl, sql);
        const output = `${result.stdout}\n${result.stderr}`.toLowerCase();
        for (const raw of forbidden) expect(output, `${sql} leaked ${raw}`).not.toContain(raw);
      }
    });

    /** Denies, as the admin, every pending approval whose statement matches, until stopped. */
    function denyWhilePending(request: APIRequestContext, matches: (statement: string) => boolean) {
      let running = true;
      const loop = (async () => {
        while (running) {
          const response = await request.get(`${d.dashboardUrl}/api/v1/approvals?status=pending`, {
            headers: { Authorization: `Bearer ${d.adminToken}` },
          });
          const { items } = (await response.json()) as { items: { id: string; statement: string }[] };
          for (const item of items.filter((i) => matches(i.statement)))
            await request.post(`${d.dashboardUrl}/api/v1/approvals/${item.id}/deny`, {
              headers: { Authorization: `Bearer ${d.adminToken}` },
              data: { reason: "not in production" },
            });
          await new Promise((r) => setTimeout(r, 200));
        }
      })();
      return {
        stop: async () => {
          running = false;
          await loop;
        },
      };
    }

    test("over simple and extended protocol, nothing changes the schema or bulk-changes data, and PII stays masked", async ({
      request,
    }) => {
      const sql = postgres(d.developerUrl, { max: 1, onnotice: () => undefined });
      const before = await sql.unsafe("select count(*)::int as n from orders", [], { prepare: true });
      // Statements the policy holds for an approval wait in their session: an approver denies each one.
      const denier = denyWhilePending(request, (statement) => STATEMENTS.includes(statement));
      const refused: string[] = [];
      for (const statement of STATEMENTS) {
        await sql.unsafe(statement, [], { prepare: true }).then(
          () => undefined,
          (e: Error) => refused.push(e.message),
        );
      }
      expect(refused).toHaveLength(10);
      for (const message of refused) expect(message).toMatch(/^Portcullis/);
      // Six waited for an approval; the others are refused outright (among them the one that would copy
      // masked columns into a table: no approval lets that through).
      expect(refused.filter((m) => m.includes("denied by admin@demo.local: not in production"))).toHaveLength(
        6,
      );
      // The same statements pasted into psql (simple protocol).
      for (const statement of STATEMENTS) {
        const result = await psql(d.developerUrl, statement);
        expect(result.ok, statement).toBe(false);
        expect(result.stderr, statement).toContain("Portcullis");
      }
      await denier.stop();
      expect(await sql.unsafe("select count(*)::int as n from orders", [], { prepare: true })).toEqual(
        before,
      );
      const rows = await sql.unsafe(
        "select email, ssn, credit_card, lower(email) as e from customers where id = $1",
        [1],
        { prepare: true },
      );
      expect(rows[0]).toEqual({
        email: "a***@example.com",
        ssn: "***-**-1120",
        credit_card: "**** **** **** 1111",
        e: "********",
      });
      await sql.end();
    });

    test("the control plane previews a statement with the agent's engine and rules", async ({ request }) => {
      const input = encodeURIComponent(
        JSON.stringify({
          json: { connection: "demo", sql: "select lower(ssn) from customers; drop table customers" },
        }),
      );
      const response = await request.get(`${d.dashboardUrl}/api/trpc/policy.preview?input=${input}`, {
        headers: { Authorization: `Bearer ${d.adminToken}` },
      });
      expect(response.status()).toBe(200);
      const preview = (await response.json()).result.data.json as {
        decision: { action: string; ruleName: string };
        statements: { masking: { computedColumnsMasked: boolean } }[];
      };
      expect(preview.decision).toMatchObject({ action: "block", ruleName: "Block destructive DDL" });
      expect(preview.statements[0]?.masking.computedColumnsMasked).toBe(true);
    });

    test("a wrong token is refused with a clear message", async () => {
      const result = await psql(d.developerUrl.replace(/:pcat_[\w-]+@/, ":pcat_wrong@"), "select 1");
      expect(result.ok).toBe(false);
      expect(result.stderr).toMatch(/password authentication failed for user "dev@demo.local"/);
    });

    test("the REST API refuses requests without a valid token", async ({ request }) => {
      expect((await request.get(`${d.dashboardUrl}/api/v1/audit-events`)).status()).toBe(401);
      expect(
        (
          await request.get(`${d.dashboardUrl}/api/v1/audit-events`, {
            headers: { Authorization: "Bearer pcat_nope" },
          })
        ).status(),
      ).toBe(401);
      expect(
        (
          await request.get(`${d.dashboardUrl}/api/v1/audit-events?limit=100000`, {
            headers: { Authorization: `Bearer ${d.adminToken}` },
          })
        ).status(),
      ).toBe(400);
    });
  });
}
