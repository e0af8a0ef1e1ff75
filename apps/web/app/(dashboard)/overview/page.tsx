import type { Metadata } from "next";
import { requireSession } from "../../../auth.ts";
import { Overview } from "./overview.tsx";

export const metadata: Metadata = { title: "Overview" };

export default async function OverviewPage() {
  const session = await requireSession("/overview");
  const { roles } = session.user;
  return (
    <div className="flex flex-col gap-5">
      <div>
        <h1 className="text-2xl font-semibold tracking-tight">Overview</h1>
        <p className="mt-1 text-sm text-slate-500">
          What went through Portcullis: statements by decision over time, who ran the most, and which tables
          they touched. Counted from the audit timeline.
        </p>
      </div>
      {roles.includes("auditor") || roles.includes("admin") ? (
        <Overview />
      ) : (
        <p className="text-sm text-slate-600">The overview is for auditors and admins.</p>
      )}
    </div>
  );
}
