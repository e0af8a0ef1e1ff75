"use client";

import { Alert, Badge, Button, Card, EmptyState, Spinner, cn } from "@portcullis/ui";
import { useQuery } from "@tanstack/react-query";
import { useState, type ReactNode } from "react";
import type { RouterOutputs } from "@portcullis/api";
import { identityKindOf } from "../../../lib/identity-kind.ts";
import { useTRPC } from "../../../trpc/react.tsx";

type TActivity = RouterOutputs["audit"]["activity"];
type TRange = "24h" | "7d" | "30d";

const RANGES: { value: TRange; label: string }[] = [
  { value: "24h", label: "Last 24 hours" },
  { value: "7d", label: "Last 7 days" },
  { value: "30d", label: "Last 30 days" },
];

// Bottom to top in each bar; the fill classes are spelled out for Tailwind's scanner.
const SERIES = [
  { key: "allowed", label: "allowed", fill: "fill-slate-400", swatch: "bg-slate-400" },
  { key: "masked", label: "masked", fill: "fill-violet-500", swatch: "bg-violet-500" },
  { key: "held", label: "held for approval", fill: "fill-amber-400", swatch: "bg-amber-400" },
  { key: "refused", label: "blocked or denied", fill: "fill-red-500", swatch: "bg-red-500" },
  { key: "error", label: "error", fill: "fill-orange-300", swatch: "bg-orange-300" },
] as const;

export function Overview() {
  const trpc = useTRPC();
  const [range, setRange] = useState<TRange>("24h");
  const activity = useQuery(trpc.audit.activity.queryOptions({ range }, { refetchInterval: 30_000 }));
  return (
    <div className="flex flex-col gap-5">
      <div role="group" aria-label="Time range" className="flex flex-wrap gap-2">
        {RANGES.map((r) => (
          <Button
            key={r.value}
            size="sm"
            variant={r.value === range ? "primary" : "secondary"}
            aria-pressed={r.value === range}
            onClick={() => setRange(r.value)}
          >
            {r.label}
          </Button>
        ))}
      </div>
      {activity.isPending ? (
        <Spinner label="Loading activity" />
      ) : activity.isError ? (
        <Alert title="Could not load activity">{activity.error.message}</Alert>
      ) : (
        <ActivityReport activity={activity.data} />
      )}
    </div>
  );
}

function ActivityReport({ activity }: { activity: TActivity }) {
  const { totals } = activity;
  const figures = [
    { label: "Statements", value: totals.statements },
    { label: "Blocked or denied", value: totals.refused },
    { label: "With masked data", value: totals.masked },
    { label: "Held for approval", value: totals.held },
    { label: "Identities", value: totals.identities },
    { label: "Sessions", value: totals.sessions },
  ];
  return (
    <>
      <dl className="grid grid-cols-2 gap-3 sm:grid-cols-3 lg:grid-cols-6">
        {figures.map((f) => (
          <Card key={f.label} className="p-4">
            <dt className="text-xs font-medium uppercase tracking-wide text-slate-500">{f.label}</dt>
            <dd className="mt-1 text-2xl font-semibold tabular-nums" data-testid={`total-${f.label}`}>
              {f.value.toLocaleString()}
            </dd>
          </Card>
        ))}
      </dl>
      <Card className="p-4">
        <h2 className="text-sm font-semibold">Statements over time</h2>
        {totals.statements === 0 ? (
          <EmptyState
            title="No statements in this window"
            description="Connect through an agent to see activity."
          />
        ) : (
          <ActivityChart activity={activity} />
        )}
      </Card>
      <div className="grid gap-5 lg:grid-cols-2">
        <Ranking
          title="Most active identities"
          first="Identity"
          counts={["Statements", "Refused", "Masked"]}
          testId="activity-actor"
          rows={activity.actors.map((a) => ({
            key: `${a.name}/${a.kind}`,
            label: (
              <>
                <span className="mr-2 break-all">{a.name}</span>
                <Badge tone={a.kind === "ai_agent" ? "violet" : a.kind === "service" ? "blue" : "neutral"}>
                  {identityKindOf(a.kind)?.label ?? a.kind}
                </Badge>
              </>
            ),
            counts: [a.statements, a.refused, a.masked],
            alert: a.refused > 0 ? 1 : null,
          }))}
        />
        <Ranking
          title="Most touched tables"
          first="Table"
          counts={["Statements", "Writes", "Masked"]}
          testId="activity-table"
          rows={activity.tables.map((t) => ({
            key: t.name,
            label: <span className="break-all font-mono text-xs">{t.name}</span>,
            counts: [t.statements, t.writes, t.masked],
            alert: null,
          }))}
        />
      </div>
    </>
  );
}

/** A top-ten table: a label column, then counts; `alert` names a count column shown in red. */
function Ranking(props: {
  title: string;
  first: string;
  counts: string[];
  testId: string;
  rows: { key: string; label: ReactNode; counts: number[]; alert: number | null }[];
}) {
  return (
    <Card>
      <h2 className="px-4 pt-4 text-sm font-semibold">{props.title}</h2>
      <table className="mt-2 w-full text-sm" aria-label={props.title}>
        <thead className="text-left text-xs text-slate-500">
          <tr>
            <th className="px-4 py-2 font-medium">{props.first}</th>
            {props.counts.map((c) => (
              <th key={c} className="px-2 py-2 text-right font-medium last:pr-4">
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {props.rows.map((row) => (
            <tr key={row.key} data-testid={props.testId}>
              <td className="px-4 py-2">{row.label}</td>
              {row.counts.map((n, i) => (
                <td
                  key={props.counts[i]}
                  className={cn(
                    "px-2 py-2 text-right tabular-nums last:pr-4",
                    row.alert === i && "text-red-700",
                  )}
                >
                  {n.toLocaleString()}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </Card>
  );
}

/** Stacked bars, one per bucket; each bar's title gives its numbers (hover, and read by screen readers). */
function ActivityChart({ activity }: { activity: TActivity }) {
  const { buckets, bucketSeconds } = activity;
  const height = 160;
  const barWidth = 100 / buckets.length;
  const total = (b: TActivity["buckets"][number]) => SERIES.reduce((sum, s) => sum + b[s.key], 0);
  const max = Math.max(1, ...buckets.map(total));
  // Days are counted in UTC on the server: label them so, or west of UTC every bar would name the day before.
  const label = (iso: string) =>
    bucketSeconds >= 86_400
      ? `${new Date(iso).toLocaleDateString([], { month: "short", day: "numeric", timeZone: "UTC" })} (UTC)`
      : new Date(iso).toLocaleString([], {
          month: "short",
          day: "numeric",
          hour: "2-digit",
          minute: "2-digit",
        });
  return (
    <div className="mt-3">
      <svg
        viewBox={`0 0 100 ${height}`}
        preserveAspectRatio="none"
        className="h-40 w-full"
        role="img"
        aria-label={`Statements per ${bucketSeconds >= 86_400 ? "day" : `${bucketSeconds / 3600} hour(s)`}, by decision`}
      >
        {buckets.map((b, i) => {
          let y = height;
          return (
            <g key={b.start} data-testid="activity-bar">
              <title>
                {`${label(b.start)}: ${total(b)} statement(s)${SERIES.filter((s) => b[s.key] > 0)
                  .map((s) => `, ${b[s.key]} ${s.label}`)
                  .join("")}`}
              </title>
              {SERIES.map((s) => {
                const h = (b[s.key] / max) * (height - 4);
                y -= h;
                return h > 0 ? (
                  <rect
                    key={s.key}
                    x={i * barWidth + barWidth * 0.1}
                    y={y}
                    width={barWidth * 0.8}
                    height={h}
                    className={s.fill}
                  />
                ) : null;
              })}
            </g>
          );
        })}
      </svg>
      <div className="mt-1 flex justify-between text-xs text-slate-500">
        <span>{label(buckets[0]!.start)}</span>
        <span>{label(buckets[buckets.length - 1]!.start)}</span>
      </div>
      <ul className="mt-3 flex flex-wrap gap-x-4 gap-y-1 text-xs text-slate-600" aria-label="Legend">
        {SERIES.map((s) => (
          <li key={s.key} className="flex items-center gap-1.5">
            <span className={cn("inline-block h-2.5 w-2.5 rounded-sm", s.swatch)} aria-hidden />
            {s.label}
          </li>
        ))}
      </ul>
    </div>
  );
}
