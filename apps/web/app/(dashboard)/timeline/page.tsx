import type { Metadata } from "next";
import { Suspense } from "react";
import { requireSession } from "../../../auth.ts";
import { ChainStatus } from "./chain-status.tsx";
import { Timeline } from "./timeline.tsx";

export const metadata: Metadata = { title: "Audit timeline" };

export default async function TimelinePage() {
  await requireSession("/timeline");
  return (
    <div className="flex flex-col gap-5">
      <div className="flex flex-wrap items-end justify-between gap-3">
        <div>
          <h1 className="text-2xl font-semibold tracking-tight">Audit timeline</h1>
          <p className="mt-1 text-sm text-slate-500">
            Every statement from every identity, across every environment, newest first.
          </p>
        </div>
        <ChainStatus />
      </div>
      {/* The timeline reads ?session= from the URL. */}
      <Suspense>
        <Timeline />
      </Suspense>
    </div>
  );
}
