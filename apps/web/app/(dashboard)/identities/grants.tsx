"use client";

import { Alert, Badge, Button, Card, EmptyState, Input, Select, Spinner } from "@portcullis/ui";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { IDENTITY_KIND } from "../../../lib/identity-kind.ts";
import { useHydrated } from "../../../lib/use-hydrated.ts";
import { useTRPC } from "../../../trpc/react.tsx";

const DURATIONS = [
  { label: "No end", hours: 0 },
  { label: "1 hour", hours: 1 },
  { label: "8 hours", hours: 8 },
  { label: "1 day", hours: 24 },
  { label: "7 days", hours: 24 * 7 },
  { label: "30 days", hours: 24 * 30 },
] as const;

/** Who may reach which connection now, directly or through a group; admins grant and revoke here. */
export function Grants({ canEdit }: { canEdit: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const grants = useQuery(trpc.identities.grants.queryOptions(undefined, { refetchInterval: 15_000 }));
  const revoke = useMutation(
    trpc.identities.revokeGrant.mutationOptions({
      onSuccess: () => void queryClient.invalidateQueries({ queryKey: trpc.identities.grants.queryKey() }),
    }),
  );
  return (
    <Card>
      <div className="border-b border-slate-200 px-4 py-3">
        <h2 className="text-base font-semibold">Access grants</h2>
        <p className="text-sm text-slate-500">
          Who may connect to which database now. A grant to a group covers everyone your identity provider
          puts in it, as of their latest sign-in.
        </p>
      </div>
      {canEdit ? <GrantForm /> : null}
      {revoke.error ? (
        <div className="px-4 pt-3">
          <Alert title="Not revoked">{revoke.error.message}</Alert>
        </div>
      ) : null}
      {grants.isPending ? (
        <div className="p-4">
          <Spinner label="Loading grants" />
        </div>
      ) : grants.isError ? (
        <div className="p-4">
          <Alert title="Could not load grants">{grants.error.message}</Alert>
        </div>
      ) : grants.data.length === 0 ? (
        <EmptyState title="No grants in force" description="Nobody can connect through an agent yet." />
      ) : (
        <div className="overflow-x-auto">
          <table className="w-full text-sm" aria-label="Grants in force">
            <thead className="text-left text-xs text-slate-500">
              <tr>
                <th className="px-4 py-2 font-medium">Connection</th>
                <th className="px-2 py-2 font-medium">Who</th>
                <th className="px-2 py-2 font-medium">Until</th>
                <th className="px-2 py-2 font-medium">Why</th>
                {canEdit ? <th className="px-4 py-2" /> : null}
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {grants.data.map((grant) => (
                <tr key={grant.id} data-testid="grant-row">
                  <td className="px-4 py-2">
                    {grant.connection.name}{" "}
                    <span className="text-xs text-slate-500">({grant.connection.environment})</span>
                  </td>
                  <td className="px-2 py-2">
                    <span className="mr-2 break-all">{grant.grantee.name}</span>
                    {grant.grantee.type === "group" ? (
                      <Badge tone="amber">
                        group · {grant.grantee.members} member{grant.grantee.members === 1 ? "" : "s"}
                      </Badge>
                    ) : (
                      <Badge>{IDENTITY_KIND[grant.grantee.kind].label}</Badge>
                    )}
                  </td>
                  <td className="px-2 py-2 whitespace-nowrap">
                    {grant.expiresAt ? new Date(grant.expiresAt).toLocaleString() : "no end"}
                  </td>
                  <td className="px-2 py-2 text-slate-600">
                    {[
                      grant.reason || null,
                      grant.viaAccessRequest ? "access request" : null,
                      grant.grantedBy ? `by ${grant.grantedBy}` : null,
                    ]
                      .filter(Boolean)
                      .join(" · ")}
                  </td>
                  {canEdit ? (
                    <td className="px-4 py-2 text-right">
                      <Button
                        size="sm"
                        variant="ghost"
                        disabled={revoke.isPending}
                        onClick={() => revoke.mutate({ grantId: grant.id })}
                      >
                        Revoke
                      </Button>
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}

function GrantForm() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const connections = useQuery(trpc.policy.connections.queryOptions());
  const identities = useQuery(trpc.identities.list.queryOptions());
  const [connectionId, setConnectionId] = useState("");
  const [granteeType, setGranteeType] = useState<"identity" | "group">("identity");
  const [identityId, setIdentityId] = useState("");
  const [group, setGroup] = useState("");
  const [hours, setHours] = useState(0);
  const [reason, setReason] = useState("");
  // The form is in the server's HTML: a submit before hydration would reload the page and lose the fields.
  const hydrated = useHydrated();
  const grant = useMutation(
    trpc.identities.grant.mutationOptions({
      onSuccess: () => {
        setReason("");
        void queryClient.invalidateQueries({ queryKey: trpc.identities.grants.queryKey() });
      },
    }),
  );
  const knownGroups = [...new Set((identities.data ?? []).flatMap((i) => i.groups))].sort();
  function submit(e: FormEvent) {
    e.preventDefault();
    grant.mutate({
      connectionId,
      ...(granteeType === "identity" ? { identityId } : { group }),
      reason,
      expiresAt: hours > 0 ? new Date(Date.now() + hours * 3_600_000).toISOString() : null,
    });
  }
  return (
    <form onSubmit={submit} aria-label="Grant access" className="border-b border-slate-200 p-4">
      <div className="grid gap-3 sm:grid-cols-2 lg:grid-cols-5">
        <Select
          label="Connection"
          value={connectionId}
          onChange={(e) => setConnectionId(e.target.value)}
          required
        >
          <option value="">Choose…</option>
          {(connections.data ?? []).map((c) => (
            <option key={c.id} value={c.id}>
              {c.name} ({c.environment})
            </option>
          ))}
        </Select>
        <Select
          label="To"
          value={granteeType}
          onChange={(e) => setGranteeType(e.target.value as "identity" | "group")}
        >
          <option value="identity">an identity</option>
          <option value="group">every member of a group</option>
        </Select>
        {granteeType === "identity" ? (
          <Select
            label="Identity"
            value={identityId}
            onChange={(e) => setIdentityId(e.target.value)}
            required
          >
            <option value="">Choose…</option>
            {(identities.data ?? []).map((i) => (
              <option key={i.id} value={i.id}>
                {i.name}
              </option>
            ))}
          </Select>
        ) : (
          <>
            <Input
              label="Group"
              value={group}
              onChange={(e) => setGroup(e.target.value)}
              list="known-groups"
              placeholder="as your identity provider names it"
              required
            />
            <datalist id="known-groups">
              {knownGroups.map((g) => (
                <option key={g} value={g} />
              ))}
            </datalist>
          </>
        )}
        <Select label="For" value={String(hours)} onChange={(e) => setHours(Number(e.target.value))}>
          {DURATIONS.map((d) => (
            <option key={d.hours} value={d.hours}>
              {d.label}
            </option>
          ))}
        </Select>
        <Input
          label="Reason"
          value={reason}
          onChange={(e) => setReason(e.target.value)}
          placeholder="on-call"
        />
      </div>
      <div className="mt-3 flex items-center gap-3">
        <Button type="submit" disabled={grant.isPending || !hydrated}>
          Grant access
        </Button>
        {grant.error ? <p className="text-sm text-red-700">{grant.error.message}</p> : null}
      </div>
    </form>
  );
}
