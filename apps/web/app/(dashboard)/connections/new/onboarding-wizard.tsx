"use client";

import type { RouterOutputs } from "@portcullis/api";
import { Alert, Badge, Button, Card, Input, Select, Spinner, Textarea, cn } from "@portcullis/ui";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useEffect, useState, type ReactNode } from "react";
import { useTRPC } from "../../../../trpc/react.tsx";

type TSuggestion = RouterOutputs["connections"]["probe"]["suggestions"][number];
const STRATEGIES = ["partial", "redact", "hash", "null", "format_preserving"] as const;
const ENVIRONMENTS = ["production", "staging", "development"] as const;

function Step({
  n,
  title,
  done,
  children,
}: {
  n: number;
  title: string;
  done?: boolean;
  children: ReactNode;
}) {
  return (
    <Card>
      <section aria-labelledby={`step-${n}`} className="flex flex-col gap-3 p-4">
        <h2 id={`step-${n}`} className="flex items-center gap-2 text-base font-semibold">
          <span
            className={cn(
              "inline-flex size-6 items-center justify-center rounded-full text-xs",
              done ? "bg-emerald-600 text-white" : "bg-slate-200 text-slate-700",
            )}
            aria-hidden
          >
            {done ? "✓" : n}
          </span>
          {title}
        </h2>
        {children}
      </section>
    </Card>
  );
}

export function OnboardingWizard() {
  const trpc = useTRPC();
  const agents = useQuery(trpc.agents.list.queryOptions());
  const identities = useQuery(trpc.identities.list.queryOptions());
  const [agentId, setAgentId] = useState("");
  const [host, setHost] = useState("127.0.0.1");
  const [port, setPort] = useState("5432");
  const [database, setDatabase] = useState("");
  const [username, setUsername] = useState("postgres");
  const [password, setPassword] = useState("");
  const [tlsMode, setTlsMode] = useState<"disable" | "require" | "verify-ca" | "verify-full">("disable");
  const [tlsCa, setTlsCa] = useState("");
  const [accepted, setAccepted] = useState<Record<string, TSuggestion & { accept: boolean }>>({});
  const [name, setName] = useState("");
  const [environment, setEnvironment] = useState<string>("staging");
  const [applyBaseline, setApplyBaseline] = useState(true);
  const [grantees, setGrantees] = useState<string[]>([]);
  const [grantGroups, setGrantGroups] = useState("");

  useEffect(() => {
    const online = agents.data?.find((a) => a.status === "online") ?? agents.data?.[0];
    if (!agentId && online) setAgentId(online.id);
  }, [agents.data, agentId]);

  const target = () => ({
    agentId,
    host,
    port: Number(port),
    database,
    username,
    password: password === "" ? null : password,
    tlsMode,
    // Only verification uses a CA; the field keeps its text if the mode is switched back and forth.
    tlsCa: tlsMode.startsWith("verify") && tlsCa.trim() !== "" ? tlsCa : null,
  });
  const test = useMutation(trpc.connections.probe.mutationOptions());
  const scan = useMutation(
    trpc.connections.probe.mutationOptions({
      onSuccess: (result) =>
        setAccepted(
          Object.fromEntries(result.suggestions.map((s) => [s.columnPattern, { ...s, accept: true }])),
        ),
    }),
  );
  const create = useMutation(trpc.connections.create.mutationOptions());
  const tested = test.data?.ok === true;
  const targetChanged = () => {
    test.reset();
    scan.reset();
  };

  if (agents.isPending || identities.isPending) return <Spinner label="Loading agents and identities" />;
  if (agents.isError) return <Alert title="Could not load agents">{agents.error.message}</Alert>;
  if (identities.isError) return <Alert title="Could not load identities">{identities.error.message}</Alert>;

  if (create.data)
    return (
      <Alert tone="info" title={`Connection "${create.data.name}" (${create.data.environment}) is ready`}>
        Agents received it with its rules. People granted access connect with their own token, using{" "}
        <code className="font-mono">{create.data.name}</code> as the database name.
      </Alert>
    );

  return (
    <div className="flex max-w-4xl flex-col gap-4">
      <Step n={1} title="Agent" done={Boolean(agentId)}>
        <Select
          label="Agent next to the database"
          value={agentId}
          onChange={(e) => setAgentId(e.target.value)}
        >
          {agents.data.map((a) => (
            <option key={a.id} value={a.id}>
              {a.name} ({a.status.replace("_", " ")})
            </option>
          ))}
        </Select>
      </Step>

      <Step n={2} title="Database" done={tested}>
        <div className="grid gap-3 sm:grid-cols-3">
          <Input
            label="Host"
            value={host}
            onChange={(e) => (setHost(e.target.value), targetChanged())}
            required
          />
          <Input
            label="Port"
            type="number"
            value={port}
            onChange={(e) => (setPort(e.target.value), targetChanged())}
          />
          <Input
            label="Database"
            value={database}
            onChange={(e) => (setDatabase(e.target.value), targetChanged())}
          />
          <Input
            label="User"
            value={username}
            onChange={(e) => (setUsername(e.target.value), targetChanged())}
          />
          <Input
            label="Password"
            type="password"
            autoComplete="new-password"
            value={password}
            onChange={(e) => (setPassword(e.target.value), targetChanged())}
          />
          <Select
            label="TLS to the database"
            value={tlsMode}
            onChange={(e) => (setTlsMode(e.target.value as typeof tlsMode), targetChanged())}
          >
            <option value="disable">disable</option>
            <option value="require">require</option>
            <option value="verify-ca">verify-ca</option>
            <option value="verify-full">verify-full</option>
          </Select>
        </div>
        {tlsMode.startsWith("verify") ? (
          <Textarea
            label="CA certificate (PEM, optional)"
            rows={4}
            placeholder={"-----BEGIN CERTIFICATE-----\n…\n-----END CERTIFICATE-----"}
            value={tlsCa}
            onChange={(e) => (setTlsCa(e.target.value), targetChanged())}
            aria-describedby="tls-ca-help"
          />
        ) : null}
        {tlsMode.startsWith("verify") ? (
          <p id="tls-ca-help" className="text-xs text-slate-500">
            The certificate of the CA that signed the database&apos;s certificate (a private CA, or your cloud
            provider&apos;s bundle). Leave it empty to trust the agent host&apos;s system certificates.
          </p>
        ) : null}
        <p className="text-xs text-slate-500">
          The password goes to the agent that uses it and is stored encrypted; it is never shown again.
        </p>
        <div className="flex items-center gap-3">
          <Button
            variant="secondary"
            disabled={!agentId || !database || test.isPending}
            onClick={() => test.mutate({ ...target(), scan: false })}
          >
            {test.isPending ? "Testing…" : "Test connection through the agent"}
          </Button>
          <span aria-live="polite" className="text-sm">
            {test.data?.ok ? (
              <span className="text-emerald-700">Connected: PostgreSQL {test.data.serverVersion}</span>
            ) : test.data ? (
              <span className="text-red-700">Failed: {test.data.error}</span>
            ) : test.error ? (
              <span className="text-red-700">{test.error.message}</span>
            ) : null}
          </span>
        </div>
      </Step>

      <Step n={3} title="Sensitive data" done={scan.data?.ok === true}>
        <div className="flex items-center gap-3">
          <Button
            variant="secondary"
            disabled={!tested || scan.isPending}
            onClick={() => scan.mutate({ ...target(), scan: true })}
          >
            {scan.isPending ? "Scanning…" : "Scan for sensitive data"}
          </Button>
          {scan.data?.ok ? (
            <span className="text-sm text-slate-600">
              {scan.data.tablesScanned} tables scanned, {scan.data.suggestions.length} sensitive columns found
            </span>
          ) : scan.data ? (
            <span className="text-sm text-red-700">Failed: {scan.data.error}</span>
          ) : null}
        </div>
        {Object.values(accepted).length > 0 ? (
          <ul
            className="divide-y divide-slate-100 rounded-md border border-slate-200"
            aria-label="Suggested masking"
          >
            {Object.values(accepted).map((s) => (
              <li key={s.columnPattern} className="flex flex-wrap items-center gap-3 px-3 py-2 text-sm">
                <label className="flex min-w-0 flex-1 items-center gap-2">
                  <input
                    type="checkbox"
                    checked={s.accept}
                    onChange={(e) =>
                      setAccepted({ ...accepted, [s.columnPattern]: { ...s, accept: e.target.checked } })
                    }
                  />
                  <code className="font-mono">{s.columnPattern}</code>
                  <Badge tone="amber">{s.category.replace("_", " ")}</Badge>
                  <span className="text-xs text-slate-500">
                    {Math.round(s.confidence * 100)}% · {s.evidence.join(" + ")}
                  </span>
                </label>
                <Select
                  label={`Strategy for ${s.columnPattern}`}
                  hideLabel
                  value={s.strategy}
                  onChange={(e) =>
                    setAccepted({
                      ...accepted,
                      [s.columnPattern]: { ...s, strategy: e.target.value as TSuggestion["strategy"] },
                    })
                  }
                  className="w-44"
                >
                  {STRATEGIES.map((strategy) => (
                    <option key={strategy}>{strategy}</option>
                  ))}
                </Select>
              </li>
            ))}
          </ul>
        ) : null}
      </Step>

      <Step n={4} title="Name and environment" done={Boolean(name)}>
        <div className="grid gap-3 sm:grid-cols-2">
          <Input
            label="Connection name (the database name clients use)"
            value={name}
            onChange={(e) => setName(e.target.value)}
            placeholder="staging"
          />
          <Select
            label="Environment"
            value={environment}
            onChange={(e) => {
              setEnvironment(e.target.value);
              setApplyBaseline(e.target.value !== "development");
            }}
          >
            {ENVIRONMENTS.map((env) => (
              <option key={env}>{env}</option>
            ))}
          </Select>
        </div>
        <label className="flex items-center gap-2 text-sm">
          <input
            type="checkbox"
            checked={applyBaseline}
            onChange={(e) => setApplyBaseline(e.target.checked)}
          />
          Start from the baseline guardrails (destructive DDL and privilege changes blocked; schema changes,
          unbounded writes and code execution need an approval)
        </label>
      </Step>

      <Step n={5} title="Access" done={grantees.length > 0 || grantGroups.trim() !== ""}>
        <fieldset className="grid gap-1 sm:grid-cols-2">
          <legend className="sr-only">Who may connect</legend>
          {identities.data
            .filter((i) => !i.disabled)
            .map((i) => (
              <label key={i.id} className="flex items-center gap-2 text-sm">
                <input
                  type="checkbox"
                  checked={grantees.includes(i.id)}
                  onChange={(e) =>
                    setGrantees(e.target.checked ? [...grantees, i.id] : grantees.filter((g) => g !== i.id))
                  }
                />
                {i.name} <span className="text-xs text-slate-500">({i.kind.replace("_", " ")})</span>
              </label>
            ))}
        </fieldset>
        <Input
          label="And every member of these groups (comma-separated, as your identity provider names them)"
          value={grantGroups}
          onChange={(e) => setGrantGroups(e.target.value)}
          placeholder="dba, data-platform"
          className="mt-3"
        />
      </Step>

      {create.error ? <Alert title="Not created">{create.error.message}</Alert> : null}
      <div>
        <Button
          disabled={!tested || !name || create.isPending}
          onClick={() =>
            create.mutate({
              ...target(),
              name,
              environment,
              applyBaseline,
              maskingRules: Object.values(accepted)
                .filter((s) => s.accept)
                .map((s) => ({ name: s.name, columnPattern: s.columnPattern, strategy: s.strategy })),
              grantIdentityIds: grantees,
              grantGroups: grantGroups
                .split(",")
                .map((g) => g.trim())
                .filter(Boolean),
            })
          }
        >
          {create.isPending ? "Creating…" : "Create connection"}
        </Button>
      </div>
    </div>
  );
}
