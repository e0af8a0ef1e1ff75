"use client";

import type { TAuditEventDto } from "@portcullis/api";
import { Badge, cn } from "@portcullis/ui";
import { useId, useState } from "react";
import { actorKindPresentation, decisionPresentation, formatDuration, formatRows } from "./presentation.ts";

const timeFormat = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});
const dateFormat = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });

export function AuditRow({ event }: { event: TAuditEventDto }) {
  const [expanded, setExpanded] = useState(false);
  const detailsId = useId();
  const occurredAt = new Date(event.occurredAt);
  const decision = decisionPresentation(event.decision);
  const kind = actorKindPresentation(event.actorKind);
  const meta = [formatRows(event.rowCount), formatDuration(event.durationMs)].filter(Boolean).join(" · ");
  const note = event.error ?? event.message;
  const statement = event.statement ?? `(${event.type.replaceAll("_", " ")})`;

  return (
    <li data-testid="audit-row" className="px-4 py-3 hover:bg-slate-50/70">
      <div className="grid grid-cols-1 gap-2 md:grid-cols-[8rem_minmax(0,15rem)_minmax(0,1fr)_9rem] md:gap-4">
        <time
          dateTime={event.occurredAt}
          title={occurredAt.toISOString()}
          className="text-sm tabular-nums text-slate-700"
        >
          {timeFormat.format(occurredAt)}
          <span className="ml-2 text-xs text-slate-400 md:ml-0 md:block">
            {dateFormat.format(occurredAt)}
          </span>
        </time>

        <div className="min-w-0 text-sm">
          <div className="flex min-w-0 items-center gap-2">
            <span className="truncate font-medium text-slate-900" title={event.actorName}>
              {event.actorName}
            </span>
            <Badge tone={kind.tone}>{kind.label}</Badge>
          </div>
          <div className="mt-0.5 flex min-w-0 items-center gap-1.5 text-xs text-slate-500">
            <span className="truncate">{event.connectionName ?? "—"}</span>
            {event.environment ? (
              <Badge
                tone={event.environment === "production" ? "rose" : "neutral"}
                className="px-1 py-0 text-[11px]"
              >
                {event.environment}
              </Badge>
            ) : null}
          </div>
        </div>

        <div className="min-w-0">
          <button
            type="button"
            aria-expanded={expanded}
            aria-controls={detailsId}
            onClick={() => setExpanded((v) => !v)}
            className="group block w-full rounded text-left focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-sky-600"
          >
            <code
              className={cn(
                "block font-mono text-[13px] leading-5 text-slate-800 group-hover:text-slate-950",
                expanded ? "whitespace-pre-wrap break-words" : "truncate",
              )}
            >
              {statement}
            </code>
            <span className="sr-only">{expanded ? "Hide details" : "Show details"}</span>
          </button>
          {note ? (
            <p
              className={cn("mt-1 truncate text-xs", event.error ? "text-red-700" : "text-slate-500")}
              title={note}
            >
              {event.ruleName ? <span className="font-medium">{event.ruleName}: </span> : null}
              {note}
            </p>
          ) : event.ruleName ? (
            <p className="mt-1 truncate text-xs text-slate-500">{event.ruleName}</p>
          ) : null}
        </div>

        <div className="flex items-center gap-3 md:flex-col md:items-end md:gap-1">
          <Badge tone={decision.tone}>{decision.label}</Badge>
          {meta ? <span className="text-xs tabular-nums text-slate-500">{meta}</span> : null}
        </div>
      </div>

      {expanded ? <AuditDetails id={detailsId} event={event} /> : null}
    </li>
  );
}

/** An admin change records the rule before and after: show both. */
function changeFields(details: TAuditEventDto["details"]): [string, string | null][] {
  if (!details || typeof details !== "object" || Array.isArray(details) || !("after" in details)) return [];
  const show = (value: unknown) => (value === null || value === undefined ? "(none)" : JSON.stringify(value));
  return [
    ["Before", show(details.before)],
    ["After", show(details.after)],
  ];
}

function AuditDetails({ id, event }: { id: string; event: TAuditEventDto }) {
  const fields: [string, string | null][] = [
    ["Statement class", event.statementClass],
    ["Tables", event.tables.join(", ") || null],
    ["Columns", event.columns.join(", ") || null],
    ["Masked columns", event.maskedColumns.join(", ") || null],
    ["Rule", event.ruleName ?? event.ruleId],
    ["Message", event.message],
    ["Error", event.error],
    ...changeFields(event.details),
    ["Client", [event.clientAddr, event.applicationName].filter(Boolean).join(" · ") || null],
    ["Session", event.sessionId],
    ["Fingerprint", event.fingerprint],
    ["Sequence", event.seq],
    ["Hash", event.hash],
  ];
  return (
    <dl
      id={id}
      className="mt-3 grid grid-cols-1 gap-x-6 gap-y-2 rounded-md border border-slate-200 bg-slate-50 p-3 text-xs sm:grid-cols-[10rem_minmax(0,1fr)]"
    >
      {fields
        .filter((field): field is [string, string] => field[1] !== null)
        .map(([label, value]) => (
          <div key={label} className="contents">
            <dt className="font-medium text-slate-500">{label}</dt>
            <dd className="break-all font-mono text-slate-800">
              {label === "Session" ? (
                <a
                  className="underline hover:text-sky-700"
                  href={`/timeline?session=${encodeURIComponent(value)}`}
                >
                  {value}
                </a>
              ) : (
                value
              )}
            </dd>
          </div>
        ))}
    </dl>
  );
}
