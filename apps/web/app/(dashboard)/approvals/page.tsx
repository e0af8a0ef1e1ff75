import type { Metadata } from "next";
import { requireSession } from "../../../auth.ts";
import { AccessRequestInbox, ApprovalInbox } from "./approval-inbox.tsx";

export const metadata: Metadata = { title: "Approvals" };

export default async function ApprovalsPage() {
  await requireSession("/approvals");
  return (
    <div className="flex flex-col gap-5">
      <div>
        <h1 className="text-2xl font-semibold tracking-tight">Approvals</h1>
        <p className="mt-1 text-sm text-slate-500">
          Statements waiting in their sessions for a decision. The requester&apos;s client resumes the moment
          you decide.
        </p>
      </div>
      <ApprovalInbox />
      <AccessRequestInbox />
    </div>
  );
}
