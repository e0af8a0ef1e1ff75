// Approvals through notifications: a held statement posts a Slack message (Block Kit) and a signed webhook
// to a local receiver; an approver opens the link from the Slack payload, approves, the held statement
// completes, and the outcome is posted back.
import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { expect, test } from "@playwright/test";
import { demo } from "../../support/demos.ts";
import { NOTIFICATIONS_DEMO, startReceiver, WEBHOOK_SECRET } from "../../support/notifications.ts";

test("the approver follows the Slack message's link, approves, and the held statement completes", async ({
  page,
}) => {
  const receiver = await startReceiver();
  try {
    const d = demo(NOTIFICATIONS_DEMO);
    const statement = `update orders set quantity = quantity where id = ${2 + Math.floor(Math.random() * 50)}`;
    const child = spawn("psql", [d.developerUrl, "-X", "-c", statement]);
    let stdout = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    const finished = new Promise<number | null>((resolve) => child.on("close", resolve));

    const slackRequest = () =>
      receiver.received.find(
        (r) => r.path === "/slack" && r.body.includes(statement) && r.body.includes('"actions"'),
      );
    await expect.poll(() => Boolean(slackRequest()), { timeout: 15_000 }).toBe(true);
    const message = JSON.parse(slackRequest()!.body) as {
      text: string;
      blocks: { type: string; elements?: { url?: string }[] }[];
    };
    expect(message.text).toContain("dev@demo.local");
    const link = message.blocks.find((b) => b.type === "actions")!.elements![0]!.url!;
    expect(link).toMatch(new RegExp(`^${d.dashboardUrl}/approvals/[0-9a-f-]{36}$`));

    // The generic webhook carries the same request, signed. It is posted independently of the Slack
    // message, so it may arrive after it.
    const webhookRequest = () =>
      receiver.received.find((r) => r.path === "/webhook" && r.body.includes(statement));
    await expect.poll(() => Boolean(webhookRequest()), { timeout: 15_000 }).toBe(true);
    const hook = webhookRequest()!;
    const [t, v1] = String(hook.headers["x-portcullis-signature"]).split(",");
    const expected = createHmac("sha256", WEBHOOK_SECRET)
      .update(`${t!.slice(2)}.${hook.body}`)
      .digest("hex");
    expect(v1).toBe(`v1=${expected}`);

    await page.goto(link);
    await page.getByLabel("Email").fill(d.adminEmail);
    await page.getByLabel("Password").fill(d.adminPassword);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await expect(page.getByTestId("held-statement")).toHaveText(statement);
    await page.getByRole("button", { name: "Approve" }).click();

    expect(await finished).toBe(0);
    expect(stdout.trim()).toBe("UPDATE 1");
    await expect
      .poll(() =>
        receiver.received.some((r) => r.path === "/slack" && r.body.includes("Approved by admin@demo.local")),
      )
      .toBe(true);
  } finally {
    await receiver.close();
  }
});
