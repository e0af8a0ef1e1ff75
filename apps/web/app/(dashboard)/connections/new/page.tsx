import type { Metadata } from "next";
import { requireSession } from "../../../../auth.ts";
import { OnboardingWizard } from "./onboarding-wizard.tsx";

export const metadata: Metadata = { title: "Onboard a database" };

export default async function OnboardPage() {
  const session = await requireSession("/connections/new");
  return (
    <div className="flex flex-col gap-5">
      <div>
        <h1 className="text-2xl font-semibold tracking-tight">Onboard a database</h1>
        <p className="mt-1 text-sm text-slate-500">
          The agent next to the database tests the connection and scans it for sensitive data (sampled values
          never leave the agent). Accept the masking it suggests, pick the environment and who gets access.
        </p>
      </div>
      {session.user.roles.includes("admin") ? (
        <OnboardingWizard />
      ) : (
        <p className="text-sm text-slate-600">Only admins onboard databases.</p>
      )}
    </div>
  );
}
