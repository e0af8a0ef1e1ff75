"use client";

import { Alert, Badge, Button, Card, EmptyState, Input, Select, Spinner } from "@portcullis/ui";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { useTRPC } from "../../../trpc/react.tsx";

export function MyConnections() {
  const trpc = useTRPC();
  const connections = useQuery(trpc.connections.mine.queryOptions());
  if (connections.isPending) return <Spinner label="Loading your connections" />;
  if (connections.isError)
    return <Alert title="Could not load your connections">{connections.error.message}</Alert>;
  if (connections.data.length === 0)
    return (
      <Card>
        <EmptyState title="No access yet" description="Ask an admin for a grant to a connection." />
      </Card>
    );
  return (
    <Card>
      <ul className="divide-y divide-slate-100">
        {connections.data.map((c) => (
          <ConnectionRow key={c.id} connection={c} />
        ))}
      </ul>
    </Card>
  );
}

function ConnectionRow({
  connection,
}: {
  connection: {
    id: string;
    name: string;
    environment: string;
    accessUntil: string | null;
    agentOnline: boolean;
  };
}) {
  const trpc = useTRPC();
  const [minutes, setMinutes] = useState("60");
  const issue = useMutation(trpc.connections.credential.mutationOptions());
  return (
    <li className="flex flex-col gap-3 px-4 py-3" data-testid="my-connection">
      <div className="flex flex-wrap items-center gap-3">
        <div className="min-w-0 flex-1">
          <p className="font-medium">{connection.name}</p>
          <p className="text-sm text-slate-500">
            {connection.accessUntil
              ? `access until ${new Date(connection.accessUntil).toLocaleString()}`
              : "access without an end date"}
          </p>
        </div>
        <Badge tone={connection.environment === "production" ? "rose" : "neutral"}>
          {connection.environment}
        </Badge>
        {!connection.agentOnline ? <Badge tone="red">agent offline</Badge> : null}
        <Select
          label={`Credential lifetime for ${connection.name}`}
          hideLabel
          value={minutes}
          onChange={(e) => setMinutes(e.target.value)}
          className="w-32"
        >
          <option value="15">15 minutes</option>
          <option value="60">1 hour</option>
          <option value="480">8 hours</option>
        </Select>
        <Button
          size="sm"
          disabled={issue.isPending || !connection.agentOnline}
          onClick={() => issue.mutate({ connectionId: connection.id, ttlMinutes: Number(minutes) })}
        >
          Connect
        </Button>
      </div>
      {issue.error ? <Alert title="No credential">{issue.error.message}</Alert> : null}
      {issue.data ? (
        <Alert tone="info" title={`Valid until ${new Date(issue.data.expiresAt).toLocaleString()}`}>
          <p className="mt-1 text-xs">psql</p>
          <pre
            className="overflow-x-auto whitespace-pre-wrap break-all font-mono text-xs"
            data-testid="psql-command"
          >
            {issue.data.psql}
          </pre>
          <p className="mt-2 text-xs">Connection URL for drivers</p>
          <pre className="overflow-x-auto whitespace-pre-wrap break-all font-mono text-xs">
            {issue.data.url}
          </pre>
        </Alert>
      ) : null}
    </li>
  );
}

/** Just-in-time access: ask for a connection for a while, with a reason; an approver decides. */
export function RequestAccess() {
  const trpc = useTRPC();
  const connections = useQuery(trpc.connections.requestable.queryOptions());
  const [connectionId, setConnectionId] = useState("");
  const [hours, setHours] = useState("1");
  const [reason, setReason] = useState("");
  const ask = useMutation(trpc.approvals.requestAccess.mutationOptions());
  if (!connections.data || connections.data.length === 0) return null;
  return (
    <Card>
      <form
        aria-label="Request access"
        className="grid gap-3 p-4 sm:grid-cols-[1fr_10rem_2fr_auto] sm:items-end"
        onSubmit={(e) => {
          e.preventDefault();
          ask.mutate({
            connectionId: connectionId || connections.data[0]!.id,
            durationSeconds: Number(hours) * 3600,
            reason,
          });
        }}
      >
        <Select
          label="Request access to"
          value={connectionId}
          onChange={(e) => setConnectionId(e.target.value)}
        >
          {connections.data.map((c) => (
            <option key={c.id} value={c.id}>
              {c.name} ({c.environment})
            </option>
          ))}
        </Select>
        <Select label="For" value={hours} onChange={(e) => setHours(e.target.value)}>
          <option value="1">1 hour</option>
          <option value="4">4 hours</option>
          <option value="8">8 hours</option>
          <option value="24">1 day</option>
        </Select>
        <Input
          label="Reason"
          value={reason}
          onChange={(e) => setReason(e.target.value)}
          required
          minLength={3}
        />
        <Button type="submit" disabled={ask.isPending} className="h-10">
          Request
        </Button>
        {ask.error ? (
          <div className="sm:col-span-4">
            <Alert title="Not requested">{ask.error.message}</Alert>
          </div>
        ) : null}
        {ask.data ? (
          <div className="sm:col-span-4">
            <Alert tone="info" title="Requested">
              An approver decides; once approved, the connection appears above for the time you asked.
            </Alert>
          </div>
        ) : null}
      </form>
    </Card>
  );
}
