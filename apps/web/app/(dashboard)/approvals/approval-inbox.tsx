"use client";

import { Alert, Badge, Card, EmptyState, Spinner } from "@portcullis/ui";
import { useQuery } from "@tanstack/react-query";
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
