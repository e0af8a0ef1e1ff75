// Live sessions: a psql session through the demo agent shows on the Sessions page, and an admin ends it from
// there; psql is told an administrator ended it, and the timeline says who did and why.
import { expect, test } from "@playwright/test";
import { demo, openPsql, sessionEnd } from "../../support/demos.ts";
import { signInAsAdmin } from "../../support/sign-in.ts";

test("an admin ends a live psql session from the Sessions page", async ({ page, request }) => {
  const d = demo("embedded");
  const url = new URL(d.developerUrl);
  const application = `e2e-live-${Date.now()}`;
  url.searchParams.set("application_name", application);
  const session = openPsql(url.toString());
  expect(await session.query("select 41 + 1")).toBe("42");

  await signInAsAdmin(page, d, "/sessions");
  const row = page.getByTestId("live-session").filter({ hasText: application });
  await expect(row).toBeVisible();
  await expect(row).toContainText("dev@demo.local → demo (production)");

  page.once("dialog", (dialog) => void dialog.accept("e2e: runaway query"));
  await row.getByRole("button", { name: "End dev@demo.local's session" }).click();
  expect(await sessionEnd(session, 10_000)).toMatch(/an administrator ended this session/);
  session.close();
  await expect(row).toHaveCount(0);

  const events = (await (
    await request.get(
      `${d.dashboardUrl}/api/v1/audit-events?text=${encodeURIComponent("e2e: runaway query")}`,
      {
        headers: { Authorization: `Bearer ${d.adminToken}` },
      },
    )
  ).json()) as { items: { type: string; actorName: string; message: string }[] };
  expect(events.items.map((e) => [e.type, e.actorName])).toEqual([["admin_change", "admin@demo.local"]]);
  expect(events.items[0]!.message).toMatch(/^ended dev@demo\.local's session on demo \(e2e-live-\d+ from /);
});
