"use client";

import { Alert, Badge, Button, Card, EmptyState, Input, Spinner } from "@portcullis/ui";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useHydrated } from "../../../lib/use-hydrated.ts";
import { useTRPC } from "../../../trpc/react.tsx";

const STATUS = {
  online: { label: "online", tone: "green" },
  offline: { label: "offline", tone: "red" },
  never_connected: { label: "not connected yet", tone: "neutral" },
} as const;

function ago(iso: string | null): string {
  if (!iso) return "never";
  const seconds = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  return new Date(iso).toLocaleString();
}

export function Agents({ canEdit, controlPlaneUrl }: { canEdit: boolean; controlPlaneUrl: string }) {
  const trpc = useTRPC();
  const agents = useQuery(trpc.agents.list.queryOptions(undefined, { refetchInterval: 5000 }));
  return (
    <div className="flex flex-col gap-5">
      {canEdit ? <EnrollAgent controlPlaneUrl={controlPlaneUrl} /> : null}
      <Card>
        {agents.isPending ? (
          <div className="p-4">
            <Spinner label="Loading agents" />
          </div>
        ) : agents.isError ? (
          <div className="p-4">
            <Alert title="Could not load agents">{agents.error.message}</Alert>
          </div>
        ) : agents.data.length === 0 ? (
          <EmptyState title="No agents yet" description="Enroll one to put a database behind Portcullis." />
        ) : (
          <ul className="divide-y divide-slate-100">
            {agents.data.map((agent) => (
              <li
                key={agent.id}
                data-testid="agent-row"
                className="flex flex-wrap items-center gap-x-4 gap-y-1 px-4 py-3"
              >
                <div className="min-w-0 flex-1">
                  <p className="font-medium">{agent.name}</p>
                  <p className="text-sm text-slate-500">
                    {[
                      agent.hostname,
                      agent.version && `v${agent.version}`,
                      agent.status === "online" && agent.startedAt && `started ${ago(agent.startedAt)}`,
                      `last heartbeat ${ago(agent.lastHeartbeatAt)}`,
                    ]
                      .filter(Boolean)
                      .join(" · ")}
                  </p>
                  <p className="text-sm text-slate-500">
                    Serves:{" "}
                    {agent.connections.length > 0
                      ? agent.connections.map((c) => `${c.name} (${c.environment})`).join(", ")
                      : "no connections yet"}
                    {agent.openEnrollments > 0
                      ? ` · ${agent.openEnrollments} unused enrollment token(s)`
                      : ""}
                  </p>
                </div>
                <Badge tone={STATUS[agent.status].tone}>{STATUS[agent.status].label}</Badge>
              </li>
            ))}
          </ul>
        )}
      </Card>
    </div>
  );
}

function EnrollAgent({ controlPlaneUrl }: { controlPlaneUrl: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [name, setName] = useState("");
  // The form is in the server's HTML: a submit before hydration would reload the page and lose the name.
  const hydrated = useHydrated();
  const issue = useMutation(
    trpc.agents.issueEnrollment.mutationOptions({
      onSuccess: () => void queryClient.invalidateQueries({ queryKey: trpc.agents.list.queryKey() }),
    }),
  );
  function submit(e: FormEvent) {
    e.preventDefault();
    issue.mutate({ name, expiresInMinutes: 60 });
  }
  return (
    <Card>
      <form
        onSubmit={submit}
        aria-label="Enroll an agent"
        className="flex flex-col gap-3 p-4 sm:flex-row sm:items-end"
      >
        <Input
          label="Agent name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          placeholder="eu-west-prod-1"
          required
          className="sm:w-80"
        />
        <Button type="submit" disabled={issue.isPending || !hydrated}>
          Issue enrollment token
        </Button>
      </form>
      {issue.error ? (
        <div className="px-4 pb-4">
          <Alert title="Not issued">{issue.error.message}</Alert>
        </div>
      ) : null}
      {issue.data ? (
        <div className="px-4 pb-4">
          <Alert
            tone="info"
            title={`Run agent "${issue.data.agentName}" with this one-time token (valid until ${new Date(issue.data.expiresAt).toLocaleString()})`}
          >
            <pre
              className="mt-1 overflow-x-auto whitespace-pre-wrap break-all font-mono text-xs"
              data-testid="enrollment-command"
            >
              {`PORTCULLIS_CONTROL_PLANE_URL=${controlPlaneUrl} \\\nPORTCULLIS_ENROLLMENT_TOKEN=${issue.data.token} \\\nnpm run -w @portcullis/agent start`}
            </pre>
          </Alert>
        </div>
      ) : null}
    </Card>
  );
}
