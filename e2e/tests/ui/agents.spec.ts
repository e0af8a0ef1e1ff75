// An admin enrolls a new agent from the dashboard: the page gives the command with a one-time token.
import { expect, test } from "@playwright/test";
import { demo } from "../../support/demos.ts";
import { signInAsAdmin } from "../../support/sign-in.ts";

test("an admin issues an enrollment token for a new agent and gets the command to run it", async ({
  page,
}) => {
  const d = demo("embedded");
  await signInAsAdmin(page, d, "/agents");

  const name = `e2e-edge-${Date.now()}`;
  const form = page.getByRole("form", { name: "Enroll an agent" });
  await form.getByLabel("Agent name").fill(name);
  await form.getByRole("button", { name: "Issue enrollment token" }).click();

  await expect(page.getByText(`Run agent "${name}" with this one-time token`)).toBeVisible();
  const command = page.getByTestId("enrollment-command");
  await expect(command).toContainText("PORTCULLIS_ENROLLMENT_TOKEN=");
  await expect(command).toContainText("PORTCULLIS_CONTROL_PLANE_URL=");
});
