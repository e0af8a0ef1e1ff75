"use client";

import { Alert, Badge, Button, Card, EmptyState, Input, Select, Spinner } from "@portcullis/ui";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useHydrated } from "../../../lib/use-hydrated.ts";
import { useTRPC } from "../../../trpc/react.tsx";

const STATUS = {
  delivering: { label: "delivering", tone: "green" },
  failing: { label: "failing", tone: "red" },
  disabled: { label: "paused", tone: "neutral" },
} as const;

const FORMAT = { jsonl: "JSON lines", ocsf: "OCSF 1.3" } as const;

function when(iso: string | null): string {
  return iso ? new Date(iso).toLocaleString() : "never";
}

export function AuditStreams() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const streams = useQuery(trpc.auditStreams.list.queryOptions(undefined, { refetchInterval: 10_000 }));
  const refresh = () => void queryClient.invalidateQueries({ queryKey: trpc.auditStreams.list.queryKey() });
  const setEnabled = useMutation(trpc.auditStreams.setEnabled.mutationOptions({ onSuccess: refresh }));
  const remove = useMutation(trpc.auditStreams.remove.mutationOptions({ onSuccess: refresh }));
  const failed = setEnabled.error ?? remove.error;
  return (
    <div className="flex flex-col gap-5">
      <NewAuditStream onCreated={refresh} />
      {failed ? <Alert title="Not changed">{failed.message}</Alert> : null}
      <Card>
        {streams.isPending ? (
          <div className="p-4">
            <Spinner label="Loading audit streams" />
          </div>
        ) : streams.isError ? (
          <div className="p-4">
            <Alert title="Could not load audit streams">{streams.error.message}</Alert>
          </div>
        ) : streams.data.length === 0 ? (
          <EmptyState
            title="No audit streams yet"
            description="Add your SIEM's HTTP collector to keep the timeline beyond this store."
          />
        ) : (
          <ul className="divide-y divide-slate-100">
            {streams.data.map((stream) => (
              <li
                key={stream.id}
                data-testid="audit-stream"
                className="flex flex-wrap items-start gap-x-4 gap-y-2 px-4 py-3"
              >
                <div className="min-w-0 flex-1">
                  <p className="flex items-center gap-2 font-medium">
                    {stream.name}
                    <Badge tone={STATUS[stream.status].tone}>{STATUS[stream.status].label}</Badge>
                  </p>
                  <p className="break-all font-mono text-xs text-slate-500">
                    {stream.url}
                    {stream.urlQueryHidden ? "?… (query not shown)" : ""}
                  </p>
                  <p className="text-sm text-slate-500">
                    {[
                      FORMAT[stream.format],
                      stream.environments.length > 0
                        ? `environments: ${stream.environments.join(", ")}`
                        : "every environment",
                      stream.signed ? "signed" : "unsigned",
                      stream.hasAuthorization ? "with Authorization header" : null,
                    ]
                      .filter(Boolean)
                      .join(" · ")}
                  </p>
                  <p className="text-sm text-slate-600" data-testid="audit-stream-progress">
                    {stream.deliveredCount.toLocaleString()} delivered · {stream.pending.toLocaleString()}
                    {stream.pendingAtLeast ? "+" : ""} waiting · last delivery {when(stream.lastDeliveredAt)}
                  </p>
                  {stream.status === "failing" && stream.lastError ? (
                    <p className="text-sm text-red-700" role="status">
                      {stream.failures} failed {stream.failures === 1 ? "attempt" : "attempts"}, last at{" "}
                      {when(stream.lastErrorAt)}: {stream.lastError}. Next try {when(stream.nextAttemptAt)}.
                    </p>
                  ) : null}
                </div>
                <div className="flex gap-2">
                  {stream.status === "failing" ? (
                    <Button
                      variant="secondary"
                      size="sm"
                      disabled={setEnabled.isPending}
                      onClick={() => setEnabled.mutate({ id: stream.id, enabled: true })}
                    >
                      Retry now
                    </Button>
                  ) : null}
                  <Button
                    variant="secondary"
                    size="sm"
                    disabled={setEnabled.isPending}
                    onClick={() => setEnabled.mutate({ id: stream.id, enabled: !stream.enabled })}
                  >
                    {stream.enabled ? "Pause" : "Resume"}
                  </Button>
                  <Button
                    variant="ghost"
                    size="sm"
                    disabled={remove.isPending}
                    onClick={() => {
                      if (
                        window.confirm(
                          `Delete audit stream "${stream.name}"? Its position in the timeline is lost.`,
                        )
                      )
                        remove.mutate({ id: stream.id });
                    }}
                  >
                    Delete
                  </Button>
                </div>
              </li>
            ))}
          </ul>
        )}
      </Card>
    </div>
  );
}

function NewAuditStream({ onCreated }: { onCreated: () => void }) {
  const trpc = useTRPC();
  const [name, setName] = useState("");
  const [url, setUrl] = useState("");
  const [format, setFormat] = useState<"jsonl" | "ocsf">("jsonl");
  const [environments, setEnvironments] = useState("");
  const [signingSecret, setSigningSecret] = useState("");
  const [authorization, setAuthorization] = useState("");
  const [startFrom, setStartFrom] = useState<"now" | "beginning">("now");
  // The form is in the server's HTML: a submit before hydration would reload the page and lose the fields.
  const hydrated = useHydrated();
  const create = useMutation(
    trpc.auditStreams.create.mutationOptions({
      onSuccess: () => {
        setName("");
        setUrl("");
        setFormat("jsonl");
        setEnvironments("");
        setSigningSecret("");
        setAuthorization("");
        setStartFrom("now");
        onCreated();
      },
    }),
  );
  function submit(e: FormEvent) {
    e.preventDefault();
    create.mutate({
      name,
      url,
      format,
      environments: environments
        .split(",")
        .map((env) => env.trim())
        .filter(Boolean),
      signingSecret: signingSecret || undefined,
      authorization: authorization || undefined,
      startFrom,
    });
  }
  return (
    <Card>
      <form onSubmit={submit} aria-label="Add an audit stream" className="grid gap-3 p-4 sm:grid-cols-2">
        <Input
          label="Name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          placeholder="splunk"
          required
        />
        <Input
          label="Collector URL"
          type="url"
          value={url}
          onChange={(e) => setUrl(e.target.value)}
          placeholder="https://collector.example.com/ingest"
          required
        />
        <Select label="Format" value={format} onChange={(e) => setFormat(e.target.value as "jsonl" | "ocsf")}>
          <option value="jsonl">JSON lines (the REST API&apos;s events)</option>
          <option value="ocsf">OCSF 1.3 (Datastore Activity)</option>
        </Select>
        <Input
          label="Environments (comma-separated, empty for all)"
          value={environments}
          onChange={(e) => setEnvironments(e.target.value)}
          placeholder="production"
        />
        <Input
          label="Signing secret (optional, 16+ characters)"
          type="password"
          autoComplete="off"
          value={signingSecret}
          onChange={(e) => setSigningSecret(e.target.value)}
        />
        <Input
          label="Authorization header (optional)"
          type="password"
          autoComplete="off"
          value={authorization}
          onChange={(e) => setAuthorization(e.target.value)}
          placeholder="Splunk <HEC token>"
        />
        <Select
          label="Start with"
          value={startFrom}
          onChange={(e) => setStartFrom(e.target.value as "now" | "beginning")}
        >
          <option value="now">Events from now on</option>
          <option value="beginning">The whole timeline so far</option>
        </Select>
        <div className="flex items-end">
          <Button type="submit" disabled={create.isPending || !hydrated}>
            Add stream
          </Button>
        </div>
      </form>
      {create.error ? (
        <div className="px-4 pb-4">
          <Alert title="Not added">{create.error.message}</Alert>
        </div>
      ) : null}
    </Card>
  );
}
