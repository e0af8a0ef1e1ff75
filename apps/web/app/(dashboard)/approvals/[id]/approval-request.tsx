"use client";

import { Alert, Badge, Button, Card, Input, Spinner } from "@portcullis/ui";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { IDENTITY_KIND } from "../../../../lib/identity-kind.ts";
import { useTRPC } from "../../../../trpc/react.tsx";
import { RISK_TONE, STATUS_TONE } from "../presentation.ts";

export function ApprovalRequest({ id, canDecide }: { id: string; canDecide: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const approval = useQuery(trpc.approvals.get.queryOptions({ id }, { refetchInterval: 3000 }));
  const [reason, setReason] = useState("");
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.approvals.get.queryKey({ id }) });
  const approve = useMutation(trpc.approvals.approve.mutationOptions({ onSettled: () => void refresh() }));
  const deny = useMutation(trpc.approvals.deny.mutationOptions({ onSettled: () => void refresh() }));

  if (approval.isPending) return <Spinner label="Loading the request" />;
  if (approval.isError) return <Alert title="Could not load the request">{approval.error.message}</Alert>;
  const a = approval.data;
  const error = approve.error?.message ?? deny.error?.message;
  const facts: [string, string][] = [
    [
      "Requested by",
      `${a.requester.displayName} (${a.requester.name}, ${IDENTITY_KIND[a.requester.kind].label})`,
    ],
    ["Connection", `${a.connection.name} (${a.connection.environment})`],
    ["Statement class", a.statementClass],
    ["Tables", a.tables.join(", ") || "—"],
    ["Rule", a.ruleName ?? "—"],
    ["Why", a.reason],
    ["Needs", needsLabel(a)],
    ["Requested", new Date(a.createdAt).toLocaleString()],
    ["Expires", new Date(a.expiresAt).toLocaleString()],
  ];

  return (
    <div className="mx-auto flex max-w-3xl flex-col gap-4">
      <div className="flex flex-wrap items-center gap-2">
        <h1 className="text-2xl font-semibold tracking-tight">Approval request</h1>
        <Badge tone={STATUS_TONE[a.status] ?? "neutral"}>{a.status}</Badge>
        <Badge tone={RISK_TONE[a.risk] ?? "neutral"}>{a.risk} risk</Badge>
      </div>
      <Card>
        <pre
          className="overflow-x-auto whitespace-pre-wrap break-words p-4 font-mono text-sm"
          data-testid="held-statement"
        >
          {a.statement}
        </pre>
      </Card>
      <Card>
        <dl className="grid grid-cols-1 gap-x-6 gap-y-2 p-4 text-sm sm:grid-cols-[10rem_minmax(0,1fr)]">
          {facts.map(([label, value]) => (
            <div key={label} className="contents">
              <dt className="font-medium text-slate-500">{label}</dt>
              <dd className="break-words">{value}</dd>
            </div>
          ))}
        </dl>
      </Card>
      {a.decisions.length > 0 ? (
        <Card>
          <ul className="divide-y divide-slate-100 text-sm">
            {a.decisions.map((d) => (
              <li key={`${d.approver}-${d.at}`} className="px-4 py-2">
                <span className="font-medium">{d.approver}</span> {d.decision}
                {d.reason ? `: ${d.reason}` : ""}{" "}
                <span className="text-xs text-slate-500">{new Date(d.at).toLocaleString()}</span>
              </li>
            ))}
          </ul>
        </Card>
      ) : null}
      {error ? <Alert title="Not recorded">{error}</Alert> : null}
      {canDecide && a.status === "pending" ? (
        <Card>
          <div className="flex flex-col gap-3 p-4">
            <Input
              label="Reason (sent to the requester)"
              value={reason}
              onChange={(e) => setReason(e.target.value)}
              placeholder="Checked with the on-call DBA"
            />
            <div className="flex flex-wrap gap-2">
              <Button
                disabled={approve.isPending || deny.isPending}
                onClick={() => approve.mutate({ id, reason })}
              >
                Approve
              </Button>
              <Button
                variant="secondary"
                disabled={approve.isPending || deny.isPending}
                onClick={() => deny.mutate({ id, reason })}
              >
                Deny
              </Button>
            </div>
          </div>
        </Card>
      ) : null}
    </div>
  );
}

/** "2 approvals from dba (1 so far)": who must still decide. */
function needsLabel(a: {
  requiredApprovals: number;
  requiredGroup: string | null;
  decisions: { decision: string }[];
}) {
  const approved = a.decisions.filter((d) => d.decision === "approved").length;
  const count = `${a.requiredApprovals} approval${a.requiredApprovals === 1 ? "" : "s"}`;
  const from = a.requiredGroup ? ` from ${a.requiredGroup}` : "";
  return `${count}${from}${a.requiredApprovals > 1 ? ` (${approved} so far)` : ""}`;
}
