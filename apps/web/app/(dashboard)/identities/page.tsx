import type { Metadata } from "next";
import { requireSession } from "../../../auth.ts";
import { Grants } from "./grants.tsx";
import { Identities } from "./identities.tsx";

export const metadata: Metadata = { title: "Identities" };

export default async function IdentitiesPage() {
  const session = await requireSession("/identities");
  return (
    <div className="flex flex-col gap-5">
      <div>
        <h1 className="text-2xl font-semibold tracking-tight">Identities, tokens and grants</h1>
        <p className="mt-1 text-sm text-slate-500">
          People, services and AI agents. API tokens are shown once, stored only as a hash, expire, and can be
          revoked: agents end the sessions that use a revoked token within seconds.
        </p>
      </div>
      <Identities canEdit={session.user.roles.includes("admin")} />
      {session.user.roles.includes("admin") || session.user.roles.includes("auditor") ? (
        <Grants canEdit={session.user.roles.includes("admin")} />
      ) : null}
    </div>
  );
}
