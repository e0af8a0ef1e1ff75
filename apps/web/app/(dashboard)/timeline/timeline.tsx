"use client";

import type { TAuditEventFilter } from "@portcullis/api";
import { Alert, Button, Card, EmptyState, Input, Select, Spinner, cn } from "@portcullis/ui";
import { keepPreviousData, useInfiniteQuery } from "@tanstack/react-query";
import { useRouter, useSearchParams } from "next/navigation";
import { useState } from "react";
import { useDebouncedValue } from "../../../lib/use-debounced-value.ts";
import { useTRPC } from "../../../trpc/react.tsx";
import { AuditRow } from "./audit-row.tsx";
import { DECISIONS } from "./presentation.ts";

// Live view: a statement run in psql shows up within a couple of seconds.
const REFRESH_MS = 2000;
const PAGE_SIZE = 50;

export function Timeline() {
  const trpc = useTRPC();
  const [search, setSearch] = useState("");
  const [decision, setDecision] = useState<TAuditEventFilter["decision"] | "">("");
  const [actorKind, setActorKind] = useState<TAuditEventFilter["actorKind"] | "">("");
  const [live, setLive] = useState(true);
  const text = useDebouncedValue(search.trim(), 300);
  // The session view: /timeline?session=<id> shows one client connection's events.
  const params = useSearchParams();
  const router = useRouter();
  const session = params.get("session") ?? "";

  const filter: TAuditEventFilter = {
    ...(session && { session }),
    ...(text && { text }),
    ...(decision && { decision }),
    ...(actorKind && { actorKind }),
  };
  const filtered = Object.keys(filter).length > 0;

  const query = useInfiniteQuery(
    trpc.audit.list.infiniteQueryOptions(
      { filter, limit: PAGE_SIZE },
      {
        getNextPageParam: (page) => page.nextCursor,
        refetchInterval: live ? REFRESH_MS : false,
        // Keep showing the old list while a new filter loads, instead of flashing a spinner.
        placeholderData: keepPreviousData,
      },
    ),
  );

  const events = query.data?.pages.flatMap((page) => page.items) ?? [];

  function clearFilters() {
    setSearch("");
    setDecision("");
    setActorKind("");
  }

  return (
    <div className="flex flex-col gap-4">
      {session ? (
        <div className="flex items-center gap-2 text-sm">
          <span>
            Session <code className="font-mono">{session}</code>: every event of this connection
          </span>
          <Button size="sm" variant="ghost" onClick={() => router.push("/timeline")}>
            Show all sessions
          </Button>
        </div>
      ) : null}
      <div className="grid grid-cols-2 gap-3 md:flex md:items-end">
        <Input
          label="Search"
          type="search"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
          placeholder="Statement, actor, connection or message"
          className="col-span-2 md:flex-1"
        />
        <Select
          label="Decision"
          value={decision}
          onChange={(e) => setDecision(e.target.value as typeof decision)}
          className="md:w-48"
        >
          <option value="">All decisions</option>
          {DECISIONS.map((d) => (
            <option key={d.value} value={d.value}>
              {d.label}
            </option>
          ))}
        </Select>
        <Select
          label="Actor"
          value={actorKind}
          onChange={(e) => setActorKind(e.target.value as typeof actorKind)}
          className="md:w-40"
        >
          <option value="">All actors</option>
          <option value="human">Humans</option>
          <option value="service">Services</option>
          <option value="ai_agent">AI agents</option>
        </Select>
        <Button
          variant="secondary"
          aria-pressed={live}
          onClick={() => setLive((v) => !v)}
          className="col-span-2 md:w-32"
        >
          <span
            aria-hidden
            className={cn(
              "size-2 rounded-full",
              live ? "bg-emerald-500 motion-safe:animate-pulse" : "bg-slate-400",
            )}
          />
          {live ? "Live" : "Paused"}
        </Button>
      </div>

      <Card className="overflow-hidden">
        <div
          aria-hidden
          className="hidden grid-cols-[8rem_minmax(0,15rem)_minmax(0,1fr)_9rem] gap-4 border-b border-slate-200 bg-slate-50 px-4 py-2 text-xs font-medium uppercase tracking-wide text-slate-500 md:grid"
        >
          <span>Time</span>
          <span>Actor · Connection</span>
          <span>Statement</span>
          <span className="text-right">Decision</span>
        </div>

        {query.isPending ? (
          <div className="flex justify-center py-16">
            <Spinner label="Loading audit events…" />
          </div>
        ) : query.isError && events.length === 0 ? (
          <div className="p-4">
            <Alert title="Could not load the audit trail">
              {query.error.data?.code === "FORBIDDEN"
                ? "Reading the audit trail requires the auditor or admin role."
                : query.error.message}
            </Alert>
          </div>
        ) : events.length === 0 ? (
          <EmptyState
            title={filtered ? "No events match these filters" : "No audit events yet"}
            description={
              filtered
                ? "Try a shorter search, or another decision."
                : "Statements run through a Portcullis agent appear here within seconds."
            }
            action={
              filtered ? (
                <Button variant="secondary" size="sm" onClick={clearFilters}>
                  Clear filters
                </Button>
              ) : null
            }
          />
        ) : (
          <ol aria-label="Audit events" className="divide-y divide-slate-100">
            {events.map((event) => (
              <AuditRow key={event.id} event={event} />
            ))}
          </ol>
        )}
      </Card>

      {events.length > 0 ? (
        <div className="flex flex-col items-center gap-2 pb-4 text-sm text-slate-500 sm:flex-row sm:justify-between">
          <p aria-live="polite">
            {query.isError ? "Refresh failed; showing the last loaded events. " : null}
            Showing {events.length.toLocaleString("en-US")} event{events.length === 1 ? "" : "s"}
            {live ? ", refreshing every 2 seconds" : ""}
          </p>
          {query.hasNextPage ? (
            <Button
              variant="secondary"
              onClick={() => void query.fetchNextPage()}
              disabled={query.isFetchingNextPage}
            >
              {query.isFetchingNextPage ? "Loading…" : "Load more"}
            </Button>
          ) : (
            <p>End of the audit trail</p>
          )}
        </div>
      ) : null}
    </div>
  );
}
