// An admin streams the timeline to a SIEM collector from the dashboard: a statement run through the agent
// arrives at the collector as signed OCSF, a collector outage shows on the page, and nothing is lost.
import { createHmac } from "node:crypto";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { expect, test } from "@playwright/test";
import { demo, psql } from "../../support/demos.ts";
import { ROOT } from "../../support/paths.ts";
import { signInAsAdmin } from "../../support/sign-in.ts";

const SECRET = "e2e-stream-signing-secret-42";

interface TCollected {
  headers: IncomingHttpHeaders;
  body: string;
}

test("an admin streams the timeline to a collector as signed OCSF, through an outage", async ({ page }) => {
  const collected: TCollected[] = [];
  let status = 200;
  const collector = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      if (status === 200) collected.push({ headers: req.headers, body });
      res.writeHead(status).end(status === 200 ? "ok" : "collector down for maintenance");
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(collector.address() as AddressInfo).port}/services/collector`;
  const queries = () =>
    collected.flatMap((c) =>
      c.body
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { query_info?: { query_string?: string }; class_uid: number }),
    );

  try {
    const d = demo("embedded");
    await signInAsAdmin(page, d, "/streams");
    const name = `e2e-siem-${Date.now()}`;
    const form = page.getByRole("form", { name: "Add an audit stream" });
    await form.getByLabel("Name").fill(name);
    await form.getByLabel("Collector URL").fill(url);
    await form.getByLabel("Format").selectOption("ocsf");
    await form.getByLabel(/^Environments/).fill("production");
    await form.getByLabel(/^Signing secret/).fill(SECRET);
    await form.getByRole("button", { name: "Add stream" }).click();
    const row = page.getByTestId("audit-stream").filter({ hasText: name });
    await expect(row).toContainText("delivering");
    await expect(row).toContainText("OCSF 1.3 · environments: production · signed");

    const first = `select count(*) from orders where id <> ${Date.now()}`;
    expect((await psql(d.developerUrl, first)).ok).toBe(true);
    await expect.poll(() => queries().some((q) => q.query_info?.query_string === first)).toBe(true);
    expect(queries().every((q) => q.class_uid === 6005)).toBe(true);
    // What the collector does to trust a body: recompute the signature.
    for (const { headers, body } of collected) {
      const [t, v1] = String(headers["x-portcullis-signature"]).split(",");
      const expected = createHmac("sha256", SECRET)
        .update(`${t!.slice(2)}.${body}`)
        .digest("hex");
      expect(v1).toBe(`v1=${expected}`);
    }
    // The page refreshes every 10 s and the session's end reaches the store after the statement: a refresh
    // may show it waiting, so wait for two.
    await expect(row.getByTestId("audit-stream-progress")).toContainText(
      /[1-9][\d,]* delivered · 0 waiting/,
      {
        timeout: 30_000,
      },
    );

    // The collector goes down: the page says so, and the statement waits for it.
    status = 503;
    const second = `select count(*) from orders where id <> ${Date.now() + 1}`;
    expect((await psql(d.developerUrl, second)).ok).toBe(true);
    await expect(row).toContainText("failing", { timeout: 15_000 });
    await expect(row).toContainText("HTTP 503: collector down for maintenance");
    await page.screenshot({ path: path.join(ROOT, "docs", "screenshots", "audit-streams.png") });

    status = 200;
    await row.getByRole("button", { name: "Retry now" }).click();
    await expect.poll(() => queries().some((q) => q.query_info?.query_string === second)).toBe(true);
    await expect(row).toContainText("delivering");

    page.once("dialog", (dialog) => void dialog.accept());
    await row.getByRole("button", { name: "Delete" }).click();
    await expect(row).toHaveCount(0);
  } finally {
    await new Promise<void>((resolve) => collector.close(() => resolve()));
  }
});
