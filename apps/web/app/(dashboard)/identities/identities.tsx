"use client";

import type { RouterOutputs } from "@portcullis/api";
import { Alert, Badge, Button, Card, EmptyState, Input, Select, Spinner } from "@portcullis/ui";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { IDENTITY_KIND } from "../../../lib/identity-kind.ts";
import { useTRPC } from "../../../trpc/react.tsx";

type TIdentity = RouterOutputs["identities"]["list"][number];
const STATUS_TONE = { active: "green", expired: "neutral", revoked: "red" } as const;

export function Identities({ canEdit }: { canEdit: boolean }) {
  const trpc = useTRPC();
  const identities = useQuery(trpc.identities.list.queryOptions());
  const [selected, setSelected] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);

  if (identities.isPending) return <Spinner label="Loading identities" />;
  if (identities.isError) return <Alert title="Could not load identities">{identities.error.message}</Alert>;
  const current = identities.data.find((i) => i.id === selected) ?? null;

  return (
    <div className="grid gap-5 lg:grid-cols-[minmax(0,3fr)_minmax(0,2fr)]">
      <Card>
        <div className="flex items-center justify-between border-b border-slate-200 px-4 py-3">
          <h2 className="text-base font-semibold">Identities</h2>
          {canEdit && !creating ? (
            <Button size="sm" variant="secondary" onClick={() => setCreating(true)}>
              New service or AI agent
            </Button>
          ) : null}
        </div>
        {creating ? <CreateIdentityForm onDone={() => setCreating(false)} /> : null}
        {identities.data.length === 0 ? (
          <EmptyState title="No identities yet" />
        ) : (
          <ul className="divide-y divide-slate-100">
            {identities.data.map((identity) => (
              <li key={identity.id}>
                <button
                  type="button"
                  onClick={() => setSelected(identity.id)}
                  aria-pressed={identity.id === selected}
                  className="flex w-full flex-wrap items-center gap-x-3 gap-y-1 px-4 py-3 text-left hover:bg-slate-50 focus-visible:outline-2 focus-visible:outline-sky-600 aria-pressed:bg-sky-50"
                >
                  <span className="min-w-0 flex-1">
                    <span className="block font-medium">{identity.name}</span>
                    <span className="block text-sm text-slate-500">
                      {identity.displayName}
                      {identity.groups.length > 0 ? ` · groups: ${identity.groups.join(", ")}` : ""}
                    </span>
                  </span>
                  {identity.disabled ? <Badge tone="red">deactivated</Badge> : null}
                  {identity.scimManaged ? <Badge tone="teal">SCIM</Badge> : null}
                  <Badge tone={IDENTITY_KIND[identity.kind].tone}>{IDENTITY_KIND[identity.kind].label}</Badge>
                  {identity.roles.map((role) => (
                    <Badge key={role}>{role}</Badge>
                  ))}
                  <span className="w-20 text-right text-xs text-slate-500">
                    {identity.activeTokens} token{identity.activeTokens === 1 ? "" : "s"}
                  </span>
                </button>
              </li>
            ))}
          </ul>
        )}
      </Card>
      {current ? (
        // Keyed: a token just issued is shown only under the identity it belongs to.
        <Tokens key={current.id} identity={current} canEdit={canEdit} />
      ) : (
        <Card className="self-start">
          <EmptyState title="Select an identity" description="Its API tokens are listed here." />
        </Card>
      )}
    </div>
  );
}

function CreateIdentityForm({ onDone }: { onDone: () => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [name, setName] = useState("");
  const [displayName, setDisplayName] = useState("");
  const [kind, setKind] = useState<"service" | "ai_agent">("service");
  const create = useMutation(
    trpc.identities.create.mutationOptions({
      onSuccess: () =>
        void queryClient.invalidateQueries({ queryKey: trpc.identities.list.queryKey() }).then(onDone),
    }),
  );
  function submit(e: FormEvent) {
    e.preventDefault();
    create.mutate({ name, displayName, kind, roles: ["member"] });
  }
  return (
    <form
      onSubmit={submit}
      aria-label="New identity"
      className="grid gap-3 border-b border-slate-200 bg-slate-50 p-4 sm:grid-cols-3"
    >
      <Input
        label="Name (the Postgres user)"
        value={name}
        onChange={(e) => setName(e.target.value)}
        required
      />
      <Input
        label="Display name"
        value={displayName}
        onChange={(e) => setDisplayName(e.target.value)}
        required
      />
      <Select label="Kind" value={kind} onChange={(e) => setKind(e.target.value as "service" | "ai_agent")}>
        <option value="service">service</option>
        <option value="ai_agent">AI agent</option>
      </Select>
      {create.error ? (
        <div className="sm:col-span-3">
          <Alert title="Not created">{create.error.message}</Alert>
        </div>
      ) : null}
      <div className="flex gap-2 sm:col-span-3">
        <Button type="submit" size="sm" disabled={create.isPending}>
          Create
        </Button>
        <Button size="sm" variant="secondary" onClick={onDone}>
          Cancel
        </Button>
      </div>
    </form>
  );
}

function Tokens({ identity, canEdit }: { identity: TIdentity; canEdit: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const tokens = useQuery(trpc.identities.tokens.queryOptions({ identityId: identity.id }));
  const [name, setName] = useState("");
  const [hours, setHours] = useState("2160");
  const [secret, setSecret] = useState<string | null>(null);
  const refresh = () =>
    Promise.all([
      queryClient.invalidateQueries({ queryKey: trpc.identities.tokens.queryKey() }),
      queryClient.invalidateQueries({ queryKey: trpc.identities.list.queryKey() }),
    ]);
  const create = useMutation(
    trpc.identities.createToken.mutationOptions({
      onSuccess: (created) => {
        setSecret(created.token);
        setName("");
        void refresh();
      },
    }),
  );
  const revoke = useMutation(
    trpc.identities.revokeToken.mutationOptions({ onSuccess: () => void refresh() }),
  );
  const setActive = useMutation(
    trpc.identities.setActive.mutationOptions({ onSuccess: () => void refresh() }),
  );

  function submit(e: FormEvent) {
    e.preventDefault();
    setSecret(null);
    create.mutate({ identityId: identity.id, name, expiresInHours: Number(hours) });
  }

  return (
    <Card className="self-start">
      <div className="flex items-center justify-between gap-3 border-b border-slate-200 px-4 py-3">
        <h2 className="text-base font-semibold">API tokens of {identity.name}</h2>
        {canEdit ? (
          identity.disabled ? (
            <Button
              size="sm"
              variant="secondary"
              disabled={setActive.isPending}
              onClick={() => setActive.mutate({ identityId: identity.id, active: true })}
            >
              Reactivate
            </Button>
          ) : (
            <Button
              size="sm"
              variant="ghost"
              className="text-red-700 hover:bg-red-50"
              disabled={setActive.isPending}
              onClick={() => {
                if (
                  window.confirm(
                    `Deactivate ${identity.name}? Its API tokens are revoked and its database sessions end within seconds.`,
                  )
                )
                  setActive.mutate({ identityId: identity.id, active: false });
              }}
            >
              Deactivate
            </Button>
          )
        ) : null}
      </div>
      {setActive.error ? (
        <div className="border-b border-slate-200 p-4">
          <Alert title="Not changed">{setActive.error.message}</Alert>
        </div>
      ) : null}
      {secret ? (
        <div className="border-b border-slate-200 p-4">
          <Alert tone="info" title="Copy this token now: it is not shown again">
            <code className="break-all font-mono" data-testid="new-token">
              {secret}
            </code>
          </Alert>
        </div>
      ) : null}
      {canEdit && !identity.disabled ? (
        <form
          onSubmit={submit}
          aria-label="Issue token"
          className="grid gap-3 border-b border-slate-200 p-4 sm:grid-cols-[1fr_10rem_auto] sm:items-end"
        >
          <Input
            label="Token name"
            value={name}
            onChange={(e) => setName(e.target.value)}
            placeholder="CI pipeline"
            required
          />
          <Select label="Expires in" value={hours} onChange={(e) => setHours(e.target.value)}>
            <option value="1">1 hour</option>
            <option value="24">1 day</option>
            <option value="720">30 days</option>
            <option value="2160">90 days</option>
            <option value="8760">1 year</option>
          </Select>
          <Button type="submit" size="sm" disabled={create.isPending} className="h-10">
            Issue token
          </Button>
          {create.error ? (
            <div className="sm:col-span-3">
              <Alert title="Not issued">{create.error.message}</Alert>
            </div>
          ) : null}
        </form>
      ) : null}
      {tokens.isPending ? (
        <div className="p-4">
          <Spinner label="Loading tokens" />
        </div>
      ) : tokens.isError ? (
        <div className="p-4">
          <Alert title="Could not load tokens">{tokens.error.message}</Alert>
        </div>
      ) : tokens.data.length === 0 ? (
        <EmptyState title="No tokens" />
      ) : (
        <ul className="divide-y divide-slate-100">
          {tokens.data.map((token) => (
            <li key={token.id} className="flex flex-wrap items-center gap-x-3 gap-y-1 px-4 py-3">
              <div className="min-w-0 flex-1">
                <p className="font-medium">{token.name}</p>
                <p className="text-xs text-slate-500">
                  <code className="font-mono">{token.prefix}…</code>
                  {token.expiresAt ? ` · expires ${new Date(token.expiresAt).toLocaleString()}` : ""}
                  {token.connectionIds.length > 0
                    ? ` · ${token.connectionIds.length} connection(s)`
                    : " · all granted connections"}
                  {token.issuedByTokenId ? " · issued with an API token" : ""}
                </p>
              </div>
              <Badge tone={STATUS_TONE[token.status]}>{token.status}</Badge>
              {canEdit && token.status === "active" ? (
                <Button
                  size="sm"
                  variant="ghost"
                  className="text-red-700 hover:bg-red-50"
                  disabled={revoke.isPending}
                  aria-label={`Revoke ${token.name}`}
                  onClick={() => {
                    if (
                      window.confirm(
                        `Revoke "${token.name}"? Tokens issued with it are revoked too; sessions using them end within seconds.`,
                      )
                    )
                      revoke.mutate({ tokenId: token.id });
                  }}
                >
                  Revoke
                </Button>
              ) : null}
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}
