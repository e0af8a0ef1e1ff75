import type { Metadata } from "next";
import { requireSession } from "../../../auth.ts";
import { env } from "../../../env.ts";
import { Agents } from "./agents.tsx";

export const metadata: Metadata = { title: "Agents" };

export default async function AgentsPage() {
  const session = await requireSession("/agents");
  return (
    <div className="flex flex-col gap-5">
      <div>
        <h1 className="text-2xl font-semibold tracking-tight">Agents</h1>
        <p className="mt-1 text-sm text-slate-500">
          Each agent runs next to its databases, enforces the last policy it received (also while this control
          plane is unreachable) and ships the audit trail here.
        </p>
      </div>
      <Agents canEdit={session.user.roles.includes("admin")} controlPlaneUrl={env.PUBLIC_URL} />
    </div>
  );
}
