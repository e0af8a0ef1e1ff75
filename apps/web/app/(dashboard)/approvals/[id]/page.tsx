import type { Metadata } from "next";
import { requireSession } from "../../../../auth.ts";
import { ApprovalRequest } from "./approval-request.tsx";

export const metadata: Metadata = { title: "Approval request" };

export default async function ApprovalPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  const session = await requireSession(`/approvals/${id}`);
  const canDecide = session.user.roles.some((r) => r === "approver" || r === "admin");
  return <ApprovalRequest id={id} canDecide={canDecide} />;
}
