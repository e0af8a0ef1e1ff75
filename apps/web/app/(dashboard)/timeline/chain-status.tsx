"use client";

import { Badge, Button } from "@portcullis/ui";
import { useQuery } from "@tanstack/react-query";
import { useTRPC } from "../../../trpc/react.tsx";

/** Recomputes the audit hash chain on request and says whether every stored event is as it was written. */
export function ChainStatus() {
  const trpc = useTRPC();
  const check = useQuery({ ...trpc.audit.verifyChain.queryOptions(), enabled: false, retry: false });
  return (
    <div className="flex flex-wrap items-center gap-2 text-sm" aria-live="polite">
      <Button size="sm" variant="secondary" onClick={() => void check.refetch()} disabled={check.isFetching}>
        {check.isFetching ? "Verifying…" : "Verify audit chain"}
      </Button>
      {check.error ? <span className="text-red-700">{check.error.message}</span> : null}
      {check.data?.ok ? (
        <Badge tone="green">intact: {check.data.checked.toLocaleString()} events checked</Badge>
      ) : check.data?.firstBroken ? (
        <Badge tone="red">
          broken at event #{check.data.firstBroken.seq} ({check.data.firstBroken.reason})
        </Badge>
      ) : null}
      {check.data?.head ? (
        // Kept outside the store, the head is an anchor: GET /api/v1/audit-events/verify?anchor=<seq>:<hash>
        // later reports events cut off or re-hashed since.
        <span className="font-mono text-xs text-slate-500" title="Keep this head to verify against later">
          head #{check.data.head.seq}:{check.data.head.hash}
        </span>
      ) : null}
    </div>
  );
}
