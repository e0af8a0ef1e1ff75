"use client";

import { Alert, Badge, Button, Card, EmptyState, Spinner } from "@portcullis/ui";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { identityKindOf } from "../../../lib/identity-kind.ts";
import { useTRPC } from "../../../trpc/react.tsx";

function since(iso: string): string {
  const seconds = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

export function LiveSessions({ canEnd }: { canEnd: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const sessions = useQuery(trpc.sessions.live.queryOptions(undefined, { refetchInterval: 3000 }));
  const end = useMutation(
    trpc.sessions.end.mutationOptions({
      onSuccess: () => void queryClient.invalidateQueries({ queryKey: trpc.sessions.live.queryKey() }),
    }),
  );

  if (sessions.isPending) return <Spinner label="Loading sessions" />;
  if (sessions.isError) return <Alert title="Could not load sessions">{sessions.error.message}</Alert>;
  return (
    <Card>
      {end.error ? (
        <div className="border-b border-slate-200 p-4">
          <Alert title="Not ended">{end.error.message}</Alert>
        </div>
      ) : null}
      {sessions.data.length === 0 ? (
        <EmptyState title="Nobody is connected" description="Sessions appear here as clients connect." />
      ) : (
        <ul className="divide-y divide-slate-100">
          {sessions.data.map((s) => {
            const kind = identityKindOf(s.identity.kind);
            return (
              <li
                key={s.sessionId}
                data-testid="live-session"
                className="flex flex-wrap items-center gap-x-4 gap-y-1 px-4 py-3"
              >
                <div className="min-w-0 flex-1">
                  <p className="font-medium">
                    {s.identity.name} → {s.connection.name} ({s.connection.environment})
                  </p>
                  <p className="text-sm text-slate-500">
                    {[s.applicationName, s.clientAddr && `from ${s.clientAddr}`].filter(Boolean).join(" ")} ·
                    connected {since(s.startedAt)} ·{" "}
                    <Link
                      href={`/timeline?session=${s.sessionId}`}
                      className="text-sky-700 underline-offset-2 hover:underline"
                    >
                      timeline
                    </Link>
                  </p>
                </div>
                {kind ? <Badge tone={kind.tone}>{kind.label}</Badge> : null}
                {canEnd ? (
                  <Button
                    size="sm"
                    variant="ghost"
                    className="text-red-700 hover:bg-red-50"
                    disabled={end.isPending}
                    aria-label={`End ${s.identity.name}'s session`}
                    onClick={() => {
                      const reason = window.prompt(
                        `End ${s.identity.name}'s session on ${s.connection.name}? Reason (for the timeline):`,
                        "",
                      );
                      if (reason !== null) end.mutate({ sessionId: s.sessionId, reason });
                    }}
                  >
                    End session
                  </Button>
                ) : null}
              </li>
            );
          })}
        </ul>
      )}
    </Card>
  );
}
