"use client";

import type { RouterOutputs } from "@portcullis/api";
import { DETECTOR_IDS } from "@portcullis/policy/detectors";
import { Alert, Badge, Button, Card, EmptyState, Input, Select, Spinner, cn } from "@portcullis/ui";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState, type FormEvent } from "react";
import { useDebouncedValue } from "../../../lib/use-debounced-value.ts";
import { useTRPC } from "../../../trpc/react.tsx";
import { scopeForSave } from "./rule-scope.ts";

type TRules = RouterOutputs["policy"]["rules"];
type TMaskingRule = TRules["maskingRules"][number];
type TGuardrail = TRules["guardrails"][number];

const STRATEGIES = ["partial", "redact", "hash", "null", "format_preserving"] as const;
const ACTIONS = ["block", "require_approval", "allow"] as const;
const ACTION_TONE = { block: "red", require_approval: "amber", allow: "green" } as const;

const list = (text: string) =>
  text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

export function PolicyEditor({ canEdit }: { canEdit: boolean }) {
  const trpc = useTRPC();
  const connections = useQuery(trpc.policy.connections.queryOptions());
  const [connectionId, setConnectionId] = useState("");
  useEffect(() => {
    const first = connections.data?.[0];
    if (!connectionId && first) setConnectionId(first.id);
  }, [connections.data, connectionId]);

  if (connections.isPending) return <Spinner label="Loading connections" />;
  if (connections.isError)
    return <Alert title="Could not load connections">{connections.error.message}</Alert>;
  if (connections.data.length === 0)
    return (
      <Card>
        <EmptyState
          title="No connections yet"
          description="Onboard a database first; its rules are edited here."
        />
      </Card>
    );

  return (
    <div className="flex flex-col gap-5">
      <Select
        label="Connection"
        value={connectionId}
        onChange={(e) => setConnectionId(e.target.value)}
        className="max-w-sm"
      >
        {connections.data.map((c) => (
          <option key={c.id} value={c.id}>
            {c.name} ({c.environment})
          </option>
        ))}
      </Select>
      {!canEdit ? (
        <Alert tone="info" title="Read only">
          Only admins change rules. You can still preview what a statement would do.
        </Alert>
      ) : null}
      {connectionId ? <ConnectionRules connectionId={connectionId} canEdit={canEdit} /> : null}
    </div>
  );
}

function ConnectionRules({ connectionId, canEdit }: { connectionId: string; canEdit: boolean }) {
  const trpc = useTRPC();
  const rules = useQuery(trpc.policy.rules.queryOptions({ connectionId }));
  if (rules.isPending) return <Spinner label="Loading rules" />;
  if (rules.isError) return <Alert title="Could not load rules">{rules.error.message}</Alert>;
  return (
    <div className="grid gap-5 lg:grid-cols-[minmax(0,3fr)_minmax(0,2fr)]">
      <div className="flex flex-col gap-5">
        <MaskingRules rules={rules.data} canEdit={canEdit} />
        <Guardrails rules={rules.data} canEdit={canEdit} />
        <AccessSimulator connectionId={connectionId} />
      </div>
      <Preview connection={rules.data.connection.name} />
    </div>
  );
}

// ---- access simulator ----------------------------------------------------------------------------------

function AccessSimulator({ connectionId }: { connectionId: string }) {
  const trpc = useTRPC();
  // Same inputs as the agent: it refreshes with the rules, so an edit shows its effect here too.
  const simulation = useQuery(trpc.policy.simulate.queryOptions({ connectionId }));
  return (
    <Card>
      <SectionHeader title="Who can reach this connection" />
      {simulation.isPending ? (
        <div className="p-4">
          <Spinner label="Simulating access" />
        </div>
      ) : simulation.isError ? (
        <div className="p-4">
          <Alert title="Could not simulate access">{simulation.error.message}</Alert>
        </div>
      ) : simulation.data.identities.length === 0 ? (
        <EmptyState title="Nobody" description="No identity holds a grant and a valid token for it." />
      ) : (
        <div className="overflow-x-auto">
          <table className="w-full text-left text-sm" data-testid="access-simulation">
            <thead className="bg-slate-50 text-xs text-slate-500">
              <tr>
                <th scope="col" className="px-4 py-2 font-medium">
                  Identity
                </th>
                <th scope="col" className="px-4 py-2 font-medium">
                  Masked by
                </th>
                {simulation.data.statements.map((sql) => (
                  <th key={sql} scope="col" className="px-2 py-2 font-mono font-normal" title={sql}>
                    {sql.length > 28 ? `${sql.slice(0, 27)}…` : sql}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {simulation.data.identities.map((identity) => (
                <tr key={identity.name}>
                  <th scope="row" className="px-4 py-2 font-medium">
                    {identity.name}
                    <span className="block text-xs font-normal text-slate-500">
                      {identity.kind.replace("_", " ")} · {identity.tokens} token
                      {identity.tokens === 1 ? "" : "s"}
                      {identity.accessUntil
                        ? ` · until ${new Date(identity.accessUntil).toLocaleDateString()}`
                        : ""}
                    </span>
                  </th>
                  <td className="px-4 py-2 text-xs text-slate-600">
                    {identity.maskedBy.length > 0 ? identity.maskedBy.join(", ") : "nothing (sees raw data)"}
                  </td>
                  {identity.decisions.map((d, i) => (
                    <td key={i} className="px-2 py-2" title={d.ruleName ?? "Default: allow"}>
                      <Badge tone={ACTION_TONE[d.action]}>{d.action.replace("_", " ")}</Badge>
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}

function useInvalidateRules() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  return () =>
    Promise.all([
      queryClient.invalidateQueries({ queryKey: trpc.policy.rules.queryKey() }),
      queryClient.invalidateQueries({ queryKey: trpc.policy.simulate.queryKey() }),
    ]);
}

function SectionHeader({ title, action }: { title: string; action?: React.ReactNode }) {
  return (
    <div className="flex items-center justify-between border-b border-slate-200 px-4 py-3">
      <h2 className="text-base font-semibold">{title}</h2>
      {action}
    </div>
  );
}

/** Why requests under this rule could not be approved today. */
function approverShortfall(eligible: number, needed: number, group: string): string {
  const who = `${eligible === 0 ? "No" : `Only ${eligible}`} approver${eligible === 1 ? " is" : "s are"}`;
  const where = group ? `in ${group}` : "enabled";
  // People from single sign-on join their groups when they sign in: a group can fill up later.
  return `${who} ${where} now: until ${needed} are, requests under this rule expire undecided.`;
}

const approversLabel = (rule: { requiredApprovals: number; approverGroup: string | null }) =>
  `${rule.requiredApprovals} approver${rule.requiredApprovals === 1 ? "" : "s"}${
    rule.approverGroup ? ` from ${rule.approverGroup}` : ""
  }`;

const scopeLabel = (scope: string, environment: string) =>
  scope === "connection" ? "this connection" : scope === "environment" ? `all ${environment}` : "everywhere";

// ---- masking rules -------------------------------------------------------------------------------------

function MaskingRules({ rules, canEdit }: { rules: TRules; canEdit: boolean }) {
  const [editing, setEditing] = useState<TMaskingRule | "new" | null>(null);
  return (
    <Card>
      <SectionHeader
        title="Masking rules"
        action={
          canEdit && editing === null ? (
            <Button size="sm" variant="secondary" onClick={() => setEditing("new")}>
              Add masking rule
            </Button>
          ) : null
        }
      />
      {editing !== null ? (
        <MaskingRuleForm
          connection={rules.connection}
          rule={editing === "new" ? null : editing}
          onDone={() => setEditing(null)}
        />
      ) : null}
      {rules.maskingRules.length === 0 ? (
        <EmptyState title="No masking rules" description="Results reach clients unmasked." />
      ) : (
        <ul className="divide-y divide-slate-100">
          {rules.maskingRules.map((rule) => (
            <li key={rule.id} className="flex flex-wrap items-center gap-x-3 gap-y-1 px-4 py-3">
              <div className="min-w-0 flex-1">
                <p className={cn("font-medium", !rule.enabled && "text-slate-400 line-through")}>
                  {rule.name}
                </p>
                <p className="text-sm text-slate-500">
                  <code className="font-mono">{rule.columnPattern ?? `detector: ${rule.detector}`}</code> ·{" "}
                  {scopeLabel(rule.scope, rules.connection.environment)}
                  {rule.exemptIdentities.length + rule.exemptGroups.length > 0
                    ? ` · exempt: ${[...rule.exemptIdentities, ...rule.exemptGroups].join(", ")}`
                    : ""}
                </p>
              </div>
              <Badge tone="violet">{rule.strategy}</Badge>
              {canEdit ? (
                <Button
                  size="sm"
                  variant="ghost"
                  onClick={() => setEditing(rule)}
                  aria-label={`Edit ${rule.name}`}
                >
                  Edit
                </Button>
              ) : null}
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}

function MaskingRuleForm({
  connection,
  rule,
  onDone,
}: {
  connection: TRules["connection"];
  rule: TMaskingRule | null;
  onDone: () => void;
}) {
  const trpc = useTRPC();
  const invalidate = useInvalidateRules();
  const [name, setName] = useState(rule?.name ?? "");
  const [target, setTarget] = useState<"column" | "detector">(rule?.detector ? "detector" : "column");
  const [columnPattern, setColumnPattern] = useState(rule?.columnPattern ?? "");
  const [detector, setDetector] = useState<string>(rule?.detector ?? "email");
  const [strategy, setStrategy] = useState<(typeof STRATEGIES)[number]>(rule?.strategy ?? "partial");
  const [exempt, setExempt] = useState(
    [...(rule?.exemptIdentities ?? []), ...(rule?.exemptGroups ?? [])].join(", "),
  );
  const [enabled, setEnabled] = useState(rule?.enabled ?? true);
  const save = useMutation(
    trpc.policy.saveMaskingRule.mutationOptions({ onSuccess: () => void invalidate().then(onDone) }),
  );
  const remove = useMutation(
    trpc.policy.deleteMaskingRule.mutationOptions({ onSuccess: () => void invalidate().then(onDone) }),
  );

  function submit(e: FormEvent) {
    e.preventDefault();
    // Names with an @ are identities; others are groups.
    const names = list(exempt);
    save.mutate({
      id: rule?.id,
      scope: scopeForSave(rule, connection.id),
      fields: {
        name,
        columnPattern: target === "column" ? columnPattern : null,
        detector: target === "detector" ? detector : null,
        strategy,
        exemptIdentities: names.filter((n) => n.includes("@")),
        exemptGroups: names.filter((n) => !n.includes("@")),
        enabled,
      },
    });
  }

  return (
    <form
      onSubmit={submit}
      aria-label="Masking rule"
      className="grid gap-3 border-b border-slate-200 bg-slate-50 p-4 sm:grid-cols-2"
    >
      <Input label="Name" value={name} onChange={(e) => setName(e.target.value)} required />
      <Select
        label="Targets"
        value={target}
        onChange={(e) => setTarget(e.target.value as "column" | "detector")}
      >
        <option value="column">A column</option>
        <option value="detector">Content found by a detector</option>
      </Select>
      {target === "column" ? (
        <Input
          label="Column (table.column, * for any)"
          value={columnPattern}
          onChange={(e) => setColumnPattern(e.target.value)}
          placeholder="customers.email"
          required
        />
      ) : (
        <Select label="Detector" value={detector} onChange={(e) => setDetector(e.target.value)}>
          {DETECTOR_IDS.map((d) => (
            <option key={d}>{d}</option>
          ))}
        </Select>
      )}
      <Select
        label="Strategy"
        value={strategy}
        onChange={(e) => setStrategy(e.target.value as (typeof STRATEGIES)[number])}
      >
        {STRATEGIES.map((s) => (
          <option key={s}>{s}</option>
        ))}
      </Select>
      <Input
        label="Exempt identities and groups (comma separated)"
        value={exempt}
        onChange={(e) => setExempt(e.target.value)}
        placeholder="admin@demo.local, security"
        className="sm:col-span-2"
      />
      <label className="flex items-center gap-2 text-sm">
        <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} />
        Enabled
      </label>
      <FormActions
        pending={save.isPending || remove.isPending}
        error={save.error?.message ?? remove.error?.message}
        onCancel={onDone}
        onDelete={rule ? () => remove.mutate({ id: rule.id }) : undefined}
      />
    </form>
  );
}

function FormActions({
  pending,
  error,
  onCancel,
  onDelete,
}: {
  pending: boolean;
  error: string | undefined;
  onCancel: () => void;
  onDelete?: () => void;
}) {
  return (
    <div className="flex flex-col gap-2 sm:col-span-2">
      {error ? <Alert title="Not saved">{error}</Alert> : null}
      <div className="flex flex-wrap items-center gap-2">
        <Button type="submit" size="sm" disabled={pending}>
          {pending ? "Saving…" : "Save"}
        </Button>
        <Button size="sm" variant="secondary" onClick={onCancel} disabled={pending}>
          Cancel
        </Button>
        {onDelete ? (
          <Button
            size="sm"
            variant="ghost"
            className="ml-auto text-red-700 hover:bg-red-50 hover:text-red-800"
            disabled={pending}
            onClick={() => {
              if (window.confirm("Delete this rule? Agents stop applying it within a second.")) onDelete();
            }}
          >
            Delete
          </Button>
        ) : null}
      </div>
    </div>
  );
}

// ---- guardrails ----------------------------------------------------------------------------------------

function Guardrails({ rules, canEdit }: { rules: TRules; canEdit: boolean }) {
  const [editing, setEditing] = useState<TGuardrail | "new" | null>(null);
  return (
    <Card>
      <SectionHeader
        title="Guardrails"
        action={
          canEdit && editing === null ? (
            <Button size="sm" variant="secondary" onClick={() => setEditing("new")}>
              Add guardrail
            </Button>
          ) : null
        }
      />
      {editing !== null ? (
        <GuardrailForm
          connection={rules.connection}
          rule={editing === "new" ? null : editing}
          onDone={() => setEditing(null)}
        />
      ) : null}
      {rules.guardrails.length === 0 ? (
        <EmptyState title="No guardrails" description="Every statement is allowed (and audited)." />
      ) : (
        <ul className="divide-y divide-slate-100">
          {rules.guardrails.map((rule) => (
            <li key={rule.id} className="flex flex-wrap items-center gap-x-3 gap-y-1 px-4 py-3">
              <span className="w-10 font-mono text-xs text-slate-400" title="Priority (lower runs first)">
                {rule.priority}
              </span>
              <div className="min-w-0 flex-1">
                <p className={cn("font-medium", !rule.enabled && "text-slate-400 line-through")}>
                  {rule.name}
                </p>
                <p className="truncate font-mono text-xs text-slate-500">{JSON.stringify(rule.match)}</p>
              </div>
              {rule.action === "require_approval" && (rule.requiredApprovals > 1 || rule.approverGroup) ? (
                <span className="text-xs text-slate-500">{approversLabel(rule)}</span>
              ) : null}
              <Badge tone={ACTION_TONE[rule.action]}>{rule.action.replace("_", " ")}</Badge>
              {canEdit ? (
                <Button
                  size="sm"
                  variant="ghost"
                  onClick={() => setEditing(rule)}
                  aria-label={`Edit ${rule.name}`}
                >
                  Edit
                </Button>
              ) : null}
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}

function GuardrailForm({
  connection,
  rule,
  onDone,
}: {
  connection: TRules["connection"];
  rule: TGuardrail | null;
  onDone: () => void;
}) {
  const trpc = useTRPC();
  const invalidate = useInvalidateRules();
  const [name, setName] = useState(rule?.name ?? "");
  const [priority, setPriority] = useState(String(rule?.priority ?? 100));
  const [action, setAction] = useState<(typeof ACTIONS)[number]>(rule?.action ?? "block");
  const [message, setMessage] = useState(rule?.message ?? "");
  const [match, setMatch] = useState(JSON.stringify(rule?.match ?? { classes: ["ddl"] }, null, 2));
  const [enabled, setEnabled] = useState(rule?.enabled ?? true);
  const [requiredApprovals, setRequiredApprovals] = useState(String(rule?.requiredApprovals ?? 1));
  const [approverGroup, setApproverGroup] = useState(rule?.approverGroup ?? "");
  // Who could decide: a group without enough approvers in it would let every request expire undecided.
  const identities = useQuery({
    ...trpc.identities.list.queryOptions(),
    enabled: action === "require_approval",
  });
  const knownGroups = [...new Set(identities.data?.flatMap((i) => i.groups) ?? [])].sort();
  const group = approverGroup.trim();
  const eligible = identities.data?.filter(
    (i) =>
      !i.disabled &&
      (i.roles.includes("approver") || i.roles.includes("admin")) &&
      (group === "" || i.groups.includes(group)),
  ).length;
  const [matchError, setMatchError] = useState<string | null>(null);
  const save = useMutation(
    trpc.policy.saveGuardrail.mutationOptions({ onSuccess: () => void invalidate().then(onDone) }),
  );
  const remove = useMutation(
    trpc.policy.deleteGuardrail.mutationOptions({ onSuccess: () => void invalidate().then(onDone) }),
  );

  function submit(e: FormEvent) {
    e.preventDefault();
    let parsed: unknown;
    try {
      parsed = JSON.parse(match);
    } catch {
      setMatchError("Match criteria must be a JSON object");
      return;
    }
    setMatchError(null);
    save.mutate({
      id: rule?.id,
      scope: scopeForSave(rule, connection.id),
      fields: {
        name,
        description: rule?.description ?? "",
        priority: Number(priority),
        action,
        message,
        match: parsed as Record<string, unknown>,
        enabled,
        requiredApprovals: Number(requiredApprovals),
        approverGroup: approverGroup.trim() || null,
      },
    });
  }

  return (
    <form
      onSubmit={submit}
      aria-label="Guardrail"
      className="grid gap-3 border-b border-slate-200 bg-slate-50 p-4 sm:grid-cols-2"
    >
      <Input label="Name" value={name} onChange={(e) => setName(e.target.value)} required />
      <div className="grid grid-cols-2 gap-3">
        <Input
          label="Priority"
          type="number"
          min={0}
          value={priority}
          onChange={(e) => setPriority(e.target.value)}
          required
        />
        <Select
          label="Action"
          value={action}
          onChange={(e) => setAction(e.target.value as (typeof ACTIONS)[number])}
        >
          {ACTIONS.map((a) => (
            <option key={a} value={a}>
              {a.replace("_", " ")}
            </option>
          ))}
        </Select>
      </div>
      <Input
        label="Message shown to the client"
        value={message}
        onChange={(e) => setMessage(e.target.value)}
        className="sm:col-span-2"
        required
      />
      {action === "require_approval" ? (
        <>
          <Input
            label="Approvals needed"
            type="number"
            min={1}
            max={5}
            value={requiredApprovals}
            onChange={(e) => setRequiredApprovals(e.target.value)}
            required
          />
          <Input
            label="Approver group"
            value={approverGroup}
            onChange={(e) => setApproverGroup(e.target.value)}
            placeholder="any approver"
            list="known-groups"
          />
          <datalist id="known-groups">
            {knownGroups.map((g) => (
              <option key={g} value={g} />
            ))}
          </datalist>
          {eligible !== undefined && eligible < Number(requiredApprovals) ? (
            <p className="text-sm text-amber-800 sm:col-span-2" role="status">
              {approverShortfall(eligible, Number(requiredApprovals), group)}
            </p>
          ) : null}
        </>
      ) : null}
      <div className="sm:col-span-2">
        <label htmlFor="guardrail-match" className="mb-1 block text-sm font-medium text-slate-700">
          Match (classes, commands, tables, columns, functions, destructive, unboundedWrite, runsCode,
          identities, identityKinds, groups, environments)
        </label>
        <textarea
          id="guardrail-match"
          value={match}
          onChange={(e) => setMatch(e.target.value)}
          rows={5}
          spellCheck={false}
          className="block w-full rounded-md border border-slate-300 bg-white p-2 font-mono text-xs focus:border-sky-600 focus:outline-2 focus:outline-sky-600/30"
        />
        {matchError ? <p className="mt-1 text-sm text-red-700">{matchError}</p> : null}
      </div>
      <label className="flex items-center gap-2 text-sm">
        <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} />
        Enabled
      </label>
      <FormActions
        pending={save.isPending || remove.isPending}
        error={save.error?.message ?? remove.error?.message}
        onCancel={onDone}
        onDelete={rule ? () => remove.mutate({ id: rule.id }) : undefined}
      />
    </form>
  );
}

// ---- live preview --------------------------------------------------------------------------------------

function Preview({ connection }: { connection: string }) {
  const trpc = useTRPC();
  const [sql, setSql] = useState("select full_name, email, ssn from customers limit 5");
  const [identityName, setIdentityName] = useState("dev@demo.local");
  const debouncedSql = useDebouncedValue(sql.trim() || "select 1", 300);
  const debouncedIdentity = useDebouncedValue(identityName.trim() || "preview@portcullis.local", 300);
  const preview = useQuery({
    ...trpc.policy.preview.queryOptions({ connection, sql: debouncedSql, identityName: debouncedIdentity }),
    placeholderData: (previous) => previous,
  });

  return (
    <Card className="self-start">
      <SectionHeader title="Preview a statement" />
      <div className="flex flex-col gap-3 p-4">
        <div>
          <label htmlFor="preview-sql" className="mb-1 block text-sm font-medium text-slate-700">
            Statement
          </label>
          <textarea
            id="preview-sql"
            value={sql}
            onChange={(e) => setSql(e.target.value)}
            rows={4}
            spellCheck={false}
            className="block w-full rounded-md border border-slate-300 bg-white p-2 font-mono text-sm focus:border-sky-600 focus:outline-2 focus:outline-sky-600/30"
          />
        </div>
        <Input label="Run by" value={identityName} onChange={(e) => setIdentityName(e.target.value)} />
        <div aria-live="polite">
          {preview.isError ? <Alert title="Preview failed">{preview.error.message}</Alert> : null}
          {preview.data ? (
            <div className="flex flex-col gap-2 text-sm" data-testid="preview-result">
              <p className="flex items-center gap-2">
                <Badge tone={ACTION_TONE[preview.data.decision.action]}>
                  {preview.data.decision.action.replace("_", " ")}
                </Badge>
                <span>{preview.data.decision.ruleName ?? "Default: allow"}</span>
              </p>
              {preview.data.decision.message ? (
                <p className="text-slate-600">{preview.data.decision.message}</p>
              ) : null}
              {preview.data.parseError ? <p className="text-slate-600">{preview.data.parseError}</p> : null}
              {preview.data.statements.map((s, i) => (
                <div key={i} className="rounded-md bg-slate-50 p-2 text-xs text-slate-600">
                  <p>
                    <span className="font-medium text-slate-800">{s.command}</span> ({s.class})
                    {s.tablesRead.length + s.tablesWritten.length > 0
                      ? ` on ${[...new Set([...s.tablesRead, ...s.tablesWritten])].join(", ")}`
                      : ""}
                  </p>
                  {s.masking.sensitiveColumns.length > 0 ? (
                    <p>Masked: {s.masking.sensitiveColumns.join(", ")}</p>
                  ) : (
                    <p>No masking applies.</p>
                  )}
                  {s.masking.computedColumnsMasked ? (
                    <p>Computed columns masked: {s.masking.reasons.join("; ")}</p>
                  ) : null}
                </div>
              ))}
            </div>
          ) : preview.isPending ? (
            <Spinner label="Evaluating" />
          ) : null}
        </div>
      </div>
    </Card>
  );
}
