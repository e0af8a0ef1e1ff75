import type { Metadata } from "next";
import { requireSession } from "../../../auth.ts";
import { AuditStreams } from "./audit-streams.tsx";

export const metadata: Metadata = { title: "Audit streams" };

export default async function AuditStreamsPage() {
  const session = await requireSession("/streams");
  return (
    <div className="flex flex-col gap-5">
      <div>
        <h1 className="text-2xl font-semibold tracking-tight">Audit streams</h1>
        <p className="mt-1 text-sm text-slate-500">
          The audit timeline sent on to your SIEM&apos;s HTTP collector as it is recorded: newline-delimited
          JSON, either as the REST API returns events or as OCSF. Every event arrives at least once and in
          order; a collector that refuses or is down gets the same events again once it is back.
        </p>
      </div>
      {session.user.roles.includes("admin") ? (
        <AuditStreams />
      ) : (
        <p className="text-sm text-slate-600">Only admins manage audit streams.</p>
      )}
    </div>
  );
}
