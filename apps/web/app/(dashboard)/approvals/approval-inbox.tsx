"use client";

import { Alert, Badge, Button, Card, EmptyState, Spinner } from "@portcullis/ui";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useTRPC } from "../../../trpc/react.tsx";
import { RISK_TONE } from "./presentation.ts";

export function ApprovalInbox() {
  const trpc = useTRPC();
  const pending = useQuery(
    trpc.approvals.list.queryOptions({ status: "pending" }, { refetchInterval: 2000 }),
  );
  if (pending.isPending) return <Spinner label="Loading approvals" />;
  if (pending.isError) return <Alert title="Could not load approvals">{pending.error.message}</Alert>;
  if (pending.data.items.length === 0)
    return (
      <Card>
        <EmptyState title="Nothing waiting" description="Held statements appear here as they arrive." />
      </Card>
    );
  return (
    <Card>
      <ul className="divide-y divide-slate-100">
        {pending.data.items.map((a) => (
          <li key={a.id}>
            <Link
              href={`/approvals/${a.id}`}
              className="flex flex-wrap items-center gap-x-3 gap-y-1 px-4 py-3 hover:bg-slate-50 focus-visible:outline-2 focus-visible:outline-sky-600"
            >
              <code className="min-w-0 flex-1 truncate font-mono text-sm">{a.statement}</code>
              <span className="text-sm text-slate-600">
                {a.requester.name} · {a.connection.name}
              </span>
              <Badge tone={a.connection.environment === "production" ? "rose" : "neutral"}>
                {a.connection.environment}
              </Badge>
              <Badge tone={RISK_TONE[a.risk] ?? "neutral"}>{a.risk} risk</Badge>
            </Link>
          </li>
        ))}
      </ul>
    </Card>
  );
}

function formatDuration(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 2 * 3600) return `${Math.round(seconds / 60)} min`;
  return `${Math.round((seconds / 3600) * 10) / 10} h`;
}

/** Pending just-in-time access requests, decided inline. */
export function AccessRequestInbox() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const pending = useQuery(
    trpc.approvals.accessRequests.queryOptions({ status: "pending" }, { refetchInterval: 5000 }),
  );
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.approvals.accessRequests.queryKey() });
  const approve = useMutation(
    trpc.approvals.approveAccess.mutationOptions({ onSettled: () => void refresh() }),
  );
  const deny = useMutation(trpc.approvals.denyAccess.mutationOptions({ onSettled: () => void refresh() }));
  if (pending.isPending) return <Spinner label="Loading access requests" />;
  if (pending.isError) return <Alert title="Could not load access requests">{pending.error.message}</Alert>;
  if (pending.data.items.length === 0) return null;
  const error = approve.error?.message ?? deny.error?.message;
  return (
    <Card>
      <h2 className="border-b border-slate-200 px-4 py-3 text-base font-semibold">Access requests</h2>
      {error ? (
        <div className="p-4">
          <Alert title="Not recorded">{error}</Alert>
        </div>
      ) : null}
      <ul className="divide-y divide-slate-100">
        {pending.data.items.map((r) => (
          <li key={r.id} className="flex flex-wrap items-center gap-x-3 gap-y-2 px-4 py-3 text-sm">
            <div className="min-w-0 flex-1">
              <p>
                <span className="font-medium">{r.requester.name}</span> asks for{" "}
                <span className="font-medium">{r.connection.name}</span> ({r.connection.environment}) for{" "}
                {formatDuration(r.durationSeconds)}
              </p>
              <p className="text-slate-500">{r.reason}</p>
            </div>
            <Button
              size="sm"
              disabled={approve.isPending}
              onClick={() => approve.mutate({ id: r.id, reason: "" })}
            >
              Approve
            </Button>
            <Button
              size="sm"
              variant="secondary"
              disabled={deny.isPending}
              onClick={() => {
                const reason = window.prompt("Reason for the requester");
                if (reason) deny.mutate({ id: r.id, reason });
              }}
            >
              Deny
            </Button>
          </li>
        ))}
      </ul>
    </Card>
  );
}
